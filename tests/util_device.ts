/**
 * The device tests put their models and tensors on: `$DG_TEST_DEVICE` (`cpu`, `cuda`, `cuda:N`;
 * default `cpu`), so that `DG_TEST_DEVICE=cuda ./dg test` runs the tests that honour it on a GPU
 * (docs/gpu.md lists them). A value that is not a device, or a CUDA device this machine does not
 * have, stops the test file at import with a message naming the variable: a CUDA run must never
 * pass quietly on the CPU.
 * @module
 */
import { cuda, type Device } from "../ffi/mod.ts";
import { cudaIndex, parseDevice } from "../lib/util/device.ts";

function testDevice(): Device {
  const raw = Deno.env.get("DG_TEST_DEVICE") || "cpu";
  const device = parseDevice(raw);
  if (!device) throw new Error(`DG_TEST_DEVICE="${raw}": expected cpu, cuda or cuda:N`);
  const index = cudaIndex(device);
  if (index !== null && (!cuda.isAvailable() || index >= cuda.deviceCount())) {
    throw new Error(
      `DG_TEST_DEVICE=${raw}: no CUDA device ${index} here (${cuda.deviceCount()} visible)`,
    );
  }
  return device;
}

/** Where the device-aware tests run their models and tensors. */
export const TEST_DEVICE: Device = testDevice();
