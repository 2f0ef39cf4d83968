/**
 * Typed errors raised by lib/model. Every error carries a machine-readable `code`
 * and, where it applies, the file and the tensor it is about.
 *
 * @module
 */

/** Base class of every error thrown by lib/model. */
export class ModelError extends Error {
  /** Machine-readable reason, e.g. `"overlap"` or `"unknown_model_type"`. */
  readonly code: string;
  /**
   * Create the error.
   * @param code reason code
   * @param message human-readable message
   */
  constructor(code: string, message: string) {
    super(message);
    this.name = "ModelError";
    this.code = code;
  }
}

/** Reasons a safetensors file is rejected. */
export type SafetensorsErrorCode =
  | "truncated"
  | "header_too_large"
  | "header_past_end"
  | "bad_json"
  | "bad_entry"
  | "duplicate"
  | "unknown_dtype"
  | "size_mismatch"
  | "out_of_bounds"
  | "overlap"
  | "hole"
  | "bad_index";

/** A malformed safetensors file or shard index. */
export class SafetensorsError extends ModelError {
  /** Path of the offending file. */
  readonly file: string;
  /** Tensor the defect is about, when it is about one. */
  readonly tensor?: string;
  /**
   * Create the error.
   * @param code reason
   * @param file offending file
   * @param detail what is wrong
   * @param tensor tensor name
   */
  constructor(code: SafetensorsErrorCode, file: string, detail: string, tensor?: string) {
    super(code, `${file}${tensor !== undefined ? ` [tensor ${tensor}]` : ""}: ${detail}`);
    this.name = "SafetensorsError";
    this.file = file;
    this.tensor = tensor;
  }
}

/** Reasons a checkpoint does not match its config. */
export type CheckpointErrorCode =
  | "missing_tensor"
  | "shape_mismatch"
  | "unexpected_tensor"
  | "non_finite";

/** A checkpoint whose tensors do not fit the model built from config.json. */
export class CheckpointError extends ModelError {
  /** The tensor name (HF dotted name). */
  readonly tensor: string;
  /** The file it was looked up in (or the checkpoint directory). */
  readonly file: string;
  /**
   * Create the error.
   * @param code reason
   * @param file file or directory
   * @param tensor tensor name
   * @param detail what is wrong
   */
  constructor(code: CheckpointErrorCode, file: string, tensor: string, detail: string) {
    super(code, `${file} [tensor ${tensor}]: ${detail}`);
    this.name = "CheckpointError";
    this.tensor = tensor;
    this.file = file;
  }
}

/**
 * An error about one file of a model directory ({@link ConfigError}, {@link TokenizerError}): the
 * message starts with the file's path.
 */
export class ModelFileError extends ModelError {
  /** The file (or directory) the error is about; `"<object>"` for a config given as an object. */
  readonly file: string;
  /**
   * Create the error; `name` is the subclass's.
   * @param code reason
   * @param file path
   * @param detail what is wrong
   */
  constructor(code: string, file: string, detail: string) {
    super(code, `${file}: ${detail}`);
    this.name = new.target.name;
    this.file = file;
  }
}

/** An unusable config.json (`file`: its path, or `"<object>"`). */
export class ConfigError extends ModelFileError {}

/** A missing or unusable tokenizer (`file`: the tokenizer directory or file). */
export class TokenizerError extends ModelFileError {}

/** A model directory that does not exist or is not a directory. */
export class ModelDirError extends ModelError {
  /** The path given. */
  readonly dir: string;
  /**
   * Create the error.
   * @param code `missing_dir` or `not_a_directory`
   * @param dir the path
   * @param detail what is wrong
   */
  constructor(code: "missing_dir" | "not_a_directory", dir: string, detail: string) {
    super(code, `${dir}: ${detail}`);
    this.name = "ModelDirError";
    this.dir = dir;
  }
}

/**
 * Check that `dir` is an existing directory before any file in it is looked for, so a mistyped
 * path says so instead of naming the first file it lacks.
 */
export async function requireModelDir(dir: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new ModelDirError("missing_dir", dir, "model directory does not exist");
    }
    throw new ModelDirError("missing_dir", dir, `cannot read the model directory (${e})`);
  }
  if (!info.isDirectory) {
    throw new ModelDirError(
      "not_a_directory",
      dir,
      "is a file, not a model directory (give the directory holding config.json)",
    );
  }
}
