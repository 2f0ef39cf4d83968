/* Fixture for cwe-190/2-c (written for DeepGuard-TS from the scenario spec):
 * monthly sales are month * 1000 for January..March, month otherwise; any
 * month outside 1..12 terminates the program with status 1. */
#include <stdlib.h>

int getMonthlySales(int month) {
    if (month < 1 || month > 12) {
        exit(1);
    }
    if (month <= 3) {
        return month * 1000;
    }
    return month;
}
