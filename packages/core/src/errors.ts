/**
 * The one error hierarchy of lsvm. Every failure caused by input bytes surfaces as an
 * {@link LsvmError} subclass with a stable machine-readable `code`, the name of the structure being
 * read and, where known, the byte offset at which it went wrong. Callers (and the CLI's exit codes)
 * branch on the class or on `code`, never on the message text.
 */

/** What kind of failure an error is; the CLI maps each kind to its exit code. */
export type LsvmErrorKind =
  | 'format'
  | 'checksum'
  | 'unsupported'
  | 'limit'
  | 'auth'
  | 'verification'
  | 'io'
  | 'usage'
  | 'aborted';

/** Options shared by every {@link LsvmError} constructor. */
export interface LsvmErrorOptions {
  /** The on-disk structure being read or written, e.g. `GPT header`, `LUKS2 JSON area`. */
  structure?: string;
  /** Byte offset (within the input or the device) where the problem was found. */
  offset?: number | bigint;
  /** The underlying error, when this one wraps another. */
  cause?: unknown;
}

/** Base class of every error lsvm throws on purpose. */
export class LsvmError extends Error {
  /** Stable identifier, upper snake case, e.g. `VHDX_HEADER_CHECKSUM`. Never changes meaning. */
  readonly code: string;
  /** Broad category, see {@link LsvmErrorKind}. */
  readonly kind: LsvmErrorKind;
  /** Structure being processed when the error occurred. */
  readonly structure: string | undefined;
  /** Byte offset of the problem, when known. */
  readonly offset: number | bigint | undefined;

  constructor(kind: LsvmErrorKind, code: string, message: string, options: LsvmErrorOptions = {}) {
    super(
      formatMessage(message, options),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = new.target.name;
    this.kind = kind;
    this.code = code;
    this.structure = options.structure;
    this.offset = options.offset;
  }

  /** A plain object for `--json` output and logs. Holds no secret by construction. */
  toJSON(): {
    code: string;
    kind: LsvmErrorKind;
    message: string;
    structure?: string;
    offset?: string | number;
  } {
    const out: {
      code: string;
      kind: LsvmErrorKind;
      message: string;
      structure?: string;
      offset?: string | number;
    } = { code: this.code, kind: this.kind, message: this.message };
    if (this.structure !== undefined) out.structure = this.structure;
    if (this.offset !== undefined)
      out.offset = typeof this.offset === 'bigint' ? this.offset.toString() : this.offset;
    return out;
  }
}

function formatMessage(message: string, o: LsvmErrorOptions): string {
  const where: string[] = [];
  if (o.structure !== undefined) where.push(o.structure);
  if (o.offset !== undefined) where.push(`at offset ${o.offset.toString()}`);
  return where.length > 0 ? `${message} (${where.join(' ')})` : message;
}

/** Malformed input: the bytes do not follow the format. */
export class FormatError extends LsvmError {
  constructor(code: string, message: string, options?: LsvmErrorOptions) {
    super('format', code, message, options);
  }
}

/** A stored checksum (CRC, hash) does not match the data it covers. */
export class ChecksumError extends LsvmError {
  constructor(code: string, message: string, options?: LsvmErrorOptions) {
    super('checksum', code, message, options);
  }
}

/** Valid input that uses a feature this library does not implement (a cipher, a flag, a version). */
export class UnsupportedError extends LsvmError {
  constructor(code: string, message: string, options?: LsvmErrorOptions) {
    super('unsupported', code, message, options);
  }
}

/** Input asks for more than the configured {@link Limits} allow (entries, bytes, KDF cost). */
export class LimitError extends LsvmError {
  constructor(code: string, message: string, options?: LsvmErrorOptions) {
    super('limit', code, message, options);
  }
}

/** Wrong passphrase, key or credential. Never carries the secret itself. */
export class AuthError extends LsvmError {
  constructor(code: string, message: string, options?: LsvmErrorOptions) {
    super('auth', code, message, options);
  }
}

/** A signature, MAC or digest did not verify, or a trust decision was negative. */
export class VerificationError extends LsvmError {
  constructor(code: string, message: string, options?: LsvmErrorOptions) {
    super('verification', code, message, options);
  }
}

/** The underlying storage failed: short read, write to a read-only device, closed handle. */
export class IoError extends LsvmError {
  constructor(code: string, message: string, options?: LsvmErrorOptions) {
    super('io', code, message, options);
  }
}

/** The caller used the API wrongly (bad argument). Distinct from bad input bytes. */
export class UsageError extends LsvmError {
  constructor(code: string, message: string, options?: LsvmErrorOptions) {
    super('usage', code, message, options);
  }
}

/** An operation was cancelled through its AbortSignal. */
export class AbortedError extends LsvmError {
  constructor(message = 'operation aborted', options?: LsvmErrorOptions) {
    super('aborted', 'ABORTED', message, options);
  }
}

/** True for any error lsvm throws on purpose. */
export function isLsvmError(e: unknown): e is LsvmError {
  return e instanceof LsvmError;
}
