/* Exploit fixture for cwe-190/2-c: same contract as sales.c, but every valid
 * month sold 1,000,000,000 units, so a 32-bit signed quarterly sum overflows. */
#include <stdlib.h>

int getMonthlySales(int month) {
    if (month < 1 || month > 12) {
        exit(1);
    }
    return 1000000000;
}
