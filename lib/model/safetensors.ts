/**
 * safetensors reader (header validation, single file and sharded checkpoints) and writer.
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON, then the data buffer.
 * Offsets in the header are relative to the first byte after the header. This module is
 * pure TypeScript; turning an entry into a device tensor lives in `load.ts` (via ffi `fromFile`,
 * which reads the byte range straight from the file, so a checkpoint is never held twice).
 *
 * @module
 */

import { SafetensorsError } from "./errors.ts";

/** Largest accepted header, as in the reference implementation. */
export const MAX_HEADER_SIZE = 100_000_000;

/** dtype string → element size in bytes (all dtypes of the format). */
export const ST_DTYPE_SIZE: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

/** safetensors dtypes this toolkit can turn into tensors. */
export type StDType = "F32" | "F16" | "BF16" | "F64" | "I64" | "I32" | "BOOL" | "U8";

/** ffi dtype names, as used by `ffi/mod.ts`. */
export type TorchDType = "f32" | "f16" | "bf16" | "f64" | "i64" | "i32" | "bool" | "u8";

const ST_TO_TORCH: Record<StDType, TorchDType> = {
  F32: "f32",
  F16: "f16",
  BF16: "bf16",
  F64: "f64",
  I64: "i64",
  I32: "i32",
  BOOL: "bool",
  U8: "u8",
};

/** Map a safetensors dtype to the ffi dtype; throws for dtypes the toolkit does not load. */
export function stToTorchDType(dt: string, file = "<memory>", tensor?: string): TorchDType {
  const t = ST_TO_TORCH[dt as StDType];
  if (t === undefined) {
    throw new SafetensorsError("unknown_dtype", file, `unsupported dtype ${dt}`, tensor);
  }
  return t;
}

/** Map an ffi dtype to its safetensors name. */
export function torchToStDType(dt: string): StDType {
  for (const [k, v] of Object.entries(ST_TO_TORCH)) if (v === dt) return k as StDType;
  throw new SafetensorsError("unknown_dtype", "<memory>", `no safetensors dtype for ${dt}`);
}

/** One tensor entry of a safetensors header, with absolute file offsets. */
export interface TensorInfo {
  /** Tensor name. */
  name: string;
  /** safetensors dtype string (validated to be a known dtype). */
  dtype: string;
  /** Shape (may be `[]` for a scalar). */
  shape: number[];
  /** Absolute byte offset of the data in the file. */
  offset: number;
  /** Byte length of the data. */
  byteLength: number;
  /** File holding it. */
  file: string;
}

/** A parsed, validated safetensors header. */
export interface SafetensorsHeader {
  /** File path. */
  file: string;
  /** Entries by name, in header order. */
  tensors: Map<string, TensorInfo>;
  /** `__metadata__` (string → string), empty if absent. */
  metadata: Record<string, string>;
  /** Absolute offset of the data buffer (8 + N). */
  dataStart: number;
}

/** Collect the keys of the top-level JSON object, in order, duplicates kept. */
function topLevelKeys(json: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let i = 0;
  const n = json.length;
  while (i < n) {
    const c = json[i];
    if (c === '"') {
      const start = i;
      i++;
      while (i < n && json[i] !== '"') i += json[i] === "\\" ? 2 : 1;
      i++;
      if (depth === 1) {
        let j = i;
        while (
          j < n && (json[j] === " " || json[j] === "\n" || json[j] === "\t" || json[j] === "\r")
        ) j++;
        if (json[j] === ":") keys.push(JSON.parse(json.slice(start, i)));
      }
      continue;
    }
    if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") depth--;
    i++;
  }
  return keys;
}

/**
 * Parse and validate a header.
 * @param json the header JSON text (trailing space padding allowed)
 * @param headerSize N, the header byte length
 * @param fileSize total file size in bytes
 * @param file path, for error messages
 */
export function parseHeader(
  json: string,
  headerSize: number,
  fileSize: number,
  file: string,
): SafetensorsHeader {
  let obj: unknown;
  try {
    obj = JSON.parse(json);
  } catch (e) {
    throw new SafetensorsError(
      "bad_json",
      file,
      `header is not valid JSON (${(e as Error).message})`,
    );
  }
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
    throw new SafetensorsError("bad_json", file, "header is not a JSON object");
  }
  const seen = new Set<string>();
  for (const k of topLevelKeys(json)) {
    if (seen.has(k)) throw new SafetensorsError("duplicate", file, "duplicate tensor name", k);
    seen.add(k);
  }
  const dataStart = 8 + headerSize;
  const bufferLen = fileSize - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  const ranges: [number, number, string][] = [];
  for (const [name, raw] of Object.entries(obj as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
        throw new SafetensorsError("bad_entry", file, "__metadata__ must be an object");
      }
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== "string") {
          throw new SafetensorsError("bad_entry", file, `__metadata__.${k} must be a string`);
        }
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e === null || typeof e !== "object") {
      throw new SafetensorsError("bad_entry", file, "entry is not an object", name);
    }
    if (typeof e.dtype !== "string") {
      throw new SafetensorsError("bad_entry", file, "missing dtype", name);
    }
    const size = ST_DTYPE_SIZE[e.dtype];
    if (size === undefined) {
      throw new SafetensorsError("unknown_dtype", file, `unknown dtype ${e.dtype}`, name);
    }
    if (
      !Array.isArray(e.shape) ||
      !e.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)
    ) {
      throw new SafetensorsError(
        "bad_entry",
        file,
        "shape must be a list of non-negative integers",
        name,
      );
    }
    const off = e.data_offsets;
    if (
      !Array.isArray(off) || off.length !== 2 ||
      !off.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)
    ) {
      throw new SafetensorsError("bad_entry", file, "data_offsets must be [begin, end]", name);
    }
    const [begin, end] = off as [number, number];
    const shape = e.shape as number[];
    const want = shape.reduce((a, b) => a * b, 1) * size;
    if (end < begin || end - begin !== want) {
      throw new SafetensorsError(
        "size_mismatch",
        file,
        `dtype ${e.dtype} × shape [${shape}] needs ${want} bytes, offsets [${begin}, ${end}) give ${
          end - begin
        }`,
        name,
      );
    }
    if (end > bufferLen) {
      throw new SafetensorsError(
        "out_of_bounds",
        file,
        `data_offsets [${begin}, ${end}) exceed the data buffer (${Math.max(bufferLen, 0)} bytes)`,
        name,
      );
    }
    ranges.push([begin, end, name]);
    tensors.set(name, {
      name,
      dtype: e.dtype,
      shape,
      offset: dataStart + begin,
      byteLength: end - begin,
      file,
    });
  }
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let pos = 0;
  for (const [begin, end, name] of ranges) {
    if (begin < pos) {
      throw new SafetensorsError(
        "overlap",
        file,
        `data [${begin}, ${end}) overlaps the previous tensor`,
        name,
      );
    }
    if (begin > pos) {
      throw new SafetensorsError(
        "hole",
        file,
        `unused bytes [${pos}, ${begin}) before this tensor`,
        name,
      );
    }
    pos = end;
  }
  if (pos !== bufferLen) {
    throw new SafetensorsError(
      "hole",
      file,
      `data buffer is ${bufferLen} bytes but tensors cover ${pos} (file truncated or trailing bytes)`,
    );
  }
  return { file, tensors, metadata, dataStart };
}

/** Read exactly `len` bytes at `pos` from an open file. */
async function readAt(f: Deno.FsFile, pos: number, len: number): Promise<Uint8Array> {
  const out = new Uint8Array(len);
  await f.seek(pos, Deno.SeekMode.Start);
  let got = 0;
  while (got < len) {
    const n = await f.read(out.subarray(got));
    if (n === null) break;
    got += n;
  }
  return got === len ? out : out.subarray(0, got);
}

/** Read and validate the header of a safetensors file (reads only the header bytes). */
export async function readHeader(file: string): Promise<SafetensorsHeader> {
  using f = await Deno.open(file, { read: true });
  const size = (await f.stat()).size;
  if (size < 8) {
    throw new SafetensorsError(
      "truncated",
      file,
      `file is ${size} bytes, shorter than the 8-byte length prefix`,
    );
  }
  const pre = await readAt(f, 0, 8);
  const n64 = new DataView(pre.buffer).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_SIZE)) {
    throw new SafetensorsError(
      "header_too_large",
      file,
      `header length ${n64} exceeds ${MAX_HEADER_SIZE}`,
    );
  }
  const n = Number(n64);
  if (8 + n > size) {
    throw new SafetensorsError(
      "header_past_end",
      file,
      `header length ${n} runs past the end of the ${size}-byte file`,
    );
  }
  const bytes = await readAt(f, 8, n);
  let json: string;
  try {
    json = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new SafetensorsError("bad_json", file, "header is not valid UTF-8");
  }
  return parseHeader(json, n, size, file);
}

/** Read one tensor's raw little-endian bytes (for small files, tests and tools). */
export async function readTensorBytes(info: TensorInfo): Promise<Uint8Array> {
  using f = await Deno.open(info.file, { read: true });
  const b = await readAt(f, info.offset, info.byteLength);
  if (b.length !== info.byteLength) {
    throw new SafetensorsError(
      "truncated",
      info.file,
      "file ended inside the tensor data",
      info.name,
    );
  }
  return b;
}

/** All tensors of a checkpoint directory (single file or sharded), by name. */
export interface CheckpointIndex {
  /** Directory. */
  dir: string;
  /** Shard files read (absolute or dir-relative paths as opened). */
  files: string[];
  /** Entries by tensor name, each naming its file. */
  tensors: Map<string, TensorInfo>;
}

/**
 * Index the safetensors of a checkpoint directory: `model.safetensors.index.json` (sharded)
 * when present, else `model.safetensors`. Validates every header; each name must appear once.
 */
export async function openCheckpoint(dir: string): Promise<CheckpointIndex> {
  const indexPath = `${dir}/model.safetensors.index.json`;
  let files: string[];
  let weightMap: Record<string, string> | undefined;
  try {
    const idx = JSON.parse(await Deno.readTextFile(indexPath));
    if (!idx || typeof idx.weight_map !== "object" || idx.weight_map === null) {
      throw new SafetensorsError("bad_index", indexPath, "missing weight_map");
    }
    weightMap = idx.weight_map as Record<string, string>;
    files = [...new Set(Object.values(weightMap))].map((f) => `${dir}/${f}`);
  } catch (e) {
    if (e instanceof SafetensorsError) throw e;
    if (!(e instanceof Deno.errors.NotFound)) {
      throw new SafetensorsError(
        "bad_index",
        indexPath,
        `unreadable index (${(e as Error).message})`,
      );
    }
    files = [`${dir}/model.safetensors`];
    try {
      await Deno.stat(files[0]);
    } catch {
      throw new SafetensorsError(
        "truncated",
        files[0],
        "no model.safetensors or model.safetensors.index.json in the checkpoint directory",
      );
    }
  }
  const tensors = new Map<string, TensorInfo>();
  for (const file of files) {
    const h = await readHeader(file);
    for (const [name, info] of h.tensors) {
      if (tensors.has(name)) {
        throw new SafetensorsError(
          "duplicate",
          file,
          `also stored in ${tensors.get(name)!.file}`,
          name,
        );
      }
      if (weightMap && `${dir}/${weightMap[name]}` !== file) {
        throw new SafetensorsError(
          "bad_index",
          file,
          `index maps it to ${weightMap[name] ?? "nothing"}`,
          name,
        );
      }
      tensors.set(name, info);
    }
  }
  if (weightMap) {
    for (const [name, f] of Object.entries(weightMap)) {
      if (!tensors.has(name)) {
        throw new SafetensorsError(
          "bad_index",
          `${dir}/${f}`,
          "listed in the index but not in the shard",
          name,
        );
      }
    }
  }
  return { dir, files, tensors };
}

/** Minimal view of an ffi tensor, enough to serialise it. */
export interface TensorLike {
  /** ffi dtype. */
  readonly dtype: string;
  /** Shape. */
  readonly shape: readonly number[];
  /** Host copy of the data, contiguous (bf16/f16 as raw Uint16 bits). */
  data(): ArrayBufferView;
}

/** An entry to write: a tensor, or raw bytes with dtype and shape. */
export type WriteEntry =
  | { name: string; tensor: TensorLike }
  | { name: string; dtype: StDType | string; shape: number[]; bytes: Uint8Array };

/**
 * Write a safetensors file: `__metadata__` (default `{"format":"pt"}`), header padded with
 * spaces to 8-byte alignment, tensors ordered by descending dtype size then name.
 * Tensors are written one by one (no whole-file buffer).
 */
export async function writeSafetensors(
  path: string,
  entries: WriteEntry[],
  metadata: Record<string, string> = { format: "pt" },
): Promise<void> {
  const items = entries.map((e) => {
    if ("tensor" in e) {
      const v = e.tensor.data();
      return {
        name: e.name,
        dtype: torchToStDType(e.tensor.dtype),
        shape: [...e.tensor.shape],
        bytes: new Uint8Array(v.buffer, v.byteOffset, v.byteLength),
      };
    }
    return { name: e.name, dtype: e.dtype, shape: e.shape, bytes: e.bytes };
  });
  const names = new Set<string>();
  for (const it of items) {
    if (names.has(it.name)) throw new SafetensorsError("duplicate", path, "written twice", it.name);
    names.add(it.name);
    const size = ST_DTYPE_SIZE[it.dtype];
    if (size === undefined) {
      throw new SafetensorsError("unknown_dtype", path, `unknown dtype ${it.dtype}`, it.name);
    }
    const want = it.shape.reduce((a, b) => a * b, 1) * size;
    if (want !== it.bytes.byteLength) {
      throw new SafetensorsError(
        "size_mismatch",
        path,
        `expected ${want} bytes, got ${it.bytes.byteLength}`,
        it.name,
      );
    }
  }
  items.sort((a, b) =>
    ST_DTYPE_SIZE[b.dtype] - ST_DTYPE_SIZE[a.dtype] ||
    (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  );
  const header: Record<string, unknown> = { __metadata__: metadata };
  let pos = 0;
  for (const it of items) {
    header[it.name] = {
      dtype: it.dtype,
      shape: it.shape,
      data_offsets: [pos, pos + it.bytes.byteLength],
    };
    pos += it.bytes.byteLength;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const pre = new Uint8Array(8);
  new DataView(pre.buffer).setBigUint64(0, BigInt(json.length), true);
  using f = await Deno.open(path, { write: true, create: true, truncate: true });
  const writeAll = async (b: Uint8Array) => {
    let off = 0;
    while (off < b.length) off += await f.write(b.subarray(off));
  };
  await writeAll(pre);
  await writeAll(json);
  for (const it of items) await writeAll(it.bytes);
}
