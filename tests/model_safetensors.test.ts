import assert from "node:assert/strict";
import {
  openCheckpoint,
  readHeader,
  readTensorBytes,
  writeSafetensors,
} from "../lib/model/safetensors.ts";
import { SafetensorsError } from "../lib/model/errors.ts";

const dir = await Deno.makeTempDir({ prefix: "dg_st_" });

/** Build a file from a header object and a data buffer length (raw, unvalidated). */
async function rawFile(name: string, header: unknown, dataLen: number, lenOverride?: bigint) {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const buf = new Uint8Array(8 + json.length + dataLen);
  new DataView(buf.buffer).setBigUint64(0, lenOverride ?? BigInt(json.length), true);
  buf.set(json, 8);
  const path = `${dir}/${name}`;
  await Deno.writeFile(path, buf);
  return path;
}

async function rejects(path: string, code: string, tensor?: string) {
  await assert.rejects(readHeader(path), (e: unknown) => {
    assert.ok(e instanceof SafetensorsError, `expected SafetensorsError, got ${e}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.file, path);
    if (tensor !== undefined) assert.equal(e.tensor, tensor);
    return true;
  });
}

Deno.test("safetensors: write then read round-trips bytes, metadata, alignment and order", async () => {
  const path = `${dir}/rt.safetensors`;
  const a = new Float32Array([1, 2, 3, 4, 5, 6]);
  const b = new Uint16Array([0x3f80, 0x4000]); // bf16 1, 2
  const c = new BigInt64Array([7n, -1n]);
  await writeSafetensors(path, [
    { name: "a", dtype: "F32", shape: [2, 3], bytes: new Uint8Array(a.buffer) },
    { name: "b", dtype: "BF16", shape: [2], bytes: new Uint8Array(b.buffer) },
    { name: "c", dtype: "I64", shape: [2], bytes: new Uint8Array(c.buffer) },
    { name: "s", dtype: "F32", shape: [], bytes: new Uint8Array(new Float32Array([9]).buffer) },
    { name: "e", dtype: "F32", shape: [0, 4], bytes: new Uint8Array(0) },
  ]);
  const h = await readHeader(path);
  assert.deepEqual(h.metadata, { format: "pt" });
  assert.equal(h.dataStart % 8, 0);
  assert.deepEqual([...h.tensors.keys()].sort(), ["a", "b", "c", "e", "s"]);
  // I64 (8-byte) first, then 4-byte dtypes by name, then BF16.
  const order = [...h.tensors.values()].sort((x, y) => x.offset - y.offset).map((t) => t.name);
  assert.deepEqual(order.filter((n) => n !== "e"), ["c", "a", "s", "b"]);
  const got = await readTensorBytes(h.tensors.get("a")!);
  assert.deepEqual(new Float32Array(got.slice().buffer), a);
  assert.deepEqual(h.tensors.get("s")!.shape, []);
  assert.equal(h.tensors.get("e")!.byteLength, 0);
});

Deno.test("safetensors: truncated file and header length past the end", async () => {
  const short = `${dir}/short.safetensors`;
  await Deno.writeFile(short, new Uint8Array([1, 2, 3]));
  await rejects(short, "truncated");
  const past = await rawFile("past.safetensors", {}, 0, 1000n);
  await rejects(past, "header_past_end");
  const huge = await rawFile("huge.safetensors", {}, 0, 200_000_000n);
  await rejects(huge, "header_too_large");
  // data cut short: the header promises 16 bytes, the file holds 8
  const cut = await rawFile("cut.safetensors", {
    w: { dtype: "F32", shape: [4], data_offsets: [0, 16] },
  }, 8);
  await rejects(cut, "out_of_bounds", "w");
});

Deno.test("safetensors: overlap, hole, size mismatch, unknown dtype, duplicate, bad JSON", async () => {
  const entry = (shape: number[], start: number, end: number, dtype = "F32") => ({
    dtype,
    shape,
    data_offsets: [start, end],
  });
  // [file, header, data bytes, expected code, tensor named]
  const cases: [string, Record<string, unknown>, number, string, string][] = [
    ["overlap", { a: entry([2], 0, 8), b: entry([2], 4, 12) }, 12, "overlap", "b"],
    ["hole", { a: entry([1], 0, 4), b: entry([1], 8, 12) }, 12, "hole", "b"],
    ["size", { a: entry([3], 0, 8) }, 8, "size_mismatch", "a"],
    ["dtype", { a: entry([1], 0, 4, "F12") }, 4, "unknown_dtype", "a"],
  ];
  for (const [file, header, bytes, code, tensor] of cases) {
    await rejects(await rawFile(`${file}.safetensors`, header, bytes), code, tensor);
  }
  const dupJson =
    '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}';
  const dupPath = `${dir}/dup.safetensors`;
  const enc = new TextEncoder().encode(dupJson);
  const buf = new Uint8Array(8 + enc.length + 2);
  new DataView(buf.buffer).setBigUint64(0, BigInt(enc.length), true);
  buf.set(enc, 8);
  await Deno.writeFile(dupPath, buf);
  await rejects(dupPath, "duplicate", "a");
  const bad = `${dir}/badjson.safetensors`;
  const bj = new TextEncoder().encode("{not json");
  const bb = new Uint8Array(8 + bj.length);
  new DataView(bb.buffer).setBigUint64(0, BigInt(bj.length), true);
  bb.set(bj, 8);
  await Deno.writeFile(bad, bb);
  await rejects(bad, "bad_json");
});

Deno.test("safetensors: sharded index is followed and checked", async () => {
  const sd = `${dir}/sharded`;
  await Deno.mkdir(sd);
  const one = new Uint8Array(new Float32Array([1]).buffer);
  await writeSafetensors(`${sd}/model-00001-of-00002.safetensors`, [
    { name: "x", dtype: "F32", shape: [1], bytes: one },
  ]);
  await writeSafetensors(`${sd}/model-00002-of-00002.safetensors`, [
    { name: "y", dtype: "F32", shape: [1], bytes: one },
  ]);
  const index = {
    metadata: { total_size: 8 },
    weight_map: { x: "model-00001-of-00002.safetensors", y: "model-00002-of-00002.safetensors" },
  };
  await Deno.writeTextFile(`${sd}/model.safetensors.index.json`, JSON.stringify(index));
  const ck = await openCheckpoint(sd);
  assert.equal(ck.files.length, 2);
  assert.ok(ck.tensors.get("y")!.file.endsWith("model-00002-of-00002.safetensors"));
  index.weight_map.y = "model-00001-of-00002.safetensors";
  (index.weight_map as Record<string, string>).z = "model-00002-of-00002.safetensors";
  await Deno.writeTextFile(`${sd}/model.safetensors.index.json`, JSON.stringify(index));
  await assert.rejects(openCheckpoint(sd), SafetensorsError);
});
