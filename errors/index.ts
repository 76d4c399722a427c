/**
 * The one error type of orewatch. Every error a user can cause or meet carries a stable `code`
 * (`SCENE.NOT_FOUND`, `PERMIT.INVALID_GEOMETRY`, …), a `kind` that decides what happens to it,
 * and a message that names the file, the field and the value.
 *
 * - `input`: bad input (file, flag, row). Never retried; the CLI exits 2 and writes nothing.
 * - `transient`: the network, Redis or PostgreSQL briefly gone. Retried with backoff.
 * - `config`: a setting that cannot work. Refused at start-up.
 * - `internal`: a bug. Exit 1.
 *
 * This folder is a leaf: every other folder may import it, it imports none of them.
 */
export type ErrorKind = 'input' | 'transient' | 'config' | 'internal';

export class OrewatchError extends Error {
  override readonly name = 'OrewatchError';
  readonly code: string;
  readonly kind: ErrorKind;
  /** The file or URL the error is about, when there is one. */
  readonly file: string | undefined;

  constructor(code: string, message: string, options: { kind?: ErrorKind; file?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.kind = options.kind ?? 'input';
    this.file = options.file;
  }

  get retryable(): boolean {
    return this.kind === 'transient';
  }
}

/** An input error: names the file (or flag), and says what is wrong with it. */
export function inputError(code: string, message: string, file?: string, cause?: unknown): OrewatchError {
  return new OrewatchError(code, message, { kind: 'input', file, cause });
}

export function isOrewatchError(value: unknown): value is OrewatchError {
  return value instanceof OrewatchError;
}
