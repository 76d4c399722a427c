/**
 * Argument checks for the vectorizer, with the project's one message shape
 * ("Expected <what> for <name> but received <value>") and stable error codes.
 */
import { OrewatchError } from '../../errors/index.js';

/** Code of every argument error raised by the vectorizer. */
export const INVALID_ARGUMENT = 'VECTORIZE.INVALID_ARGUMENT';

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value instanceof Uint8Array || value instanceof Float32Array) return `${value.constructor.name}(${value.length})`;
  if (typeof value === 'object' && value !== null) {
    try {
      return JSON.stringify(value);
    } catch {
      return Object.prototype.toString.call(value);
    }
  }
  return String(value);
}

export function argumentError(what: string, name: string, value: unknown, code = INVALID_ARGUMENT): OrewatchError {
  return new OrewatchError(code, `Expected ${what} for ${name} but received ${describe(value)}`, { kind: 'input' });
}

export function expectInteger(value: unknown, name: string, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw argumentError(min === 1 ? 'a positive integer' : `an integer ≥ ${min}`, name, value);
  }
  return value;
}

export function expectNumber(value: unknown, name: string, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw argumentError(`a finite number ≥ ${min}`, name, value);
  }
  return value;
}

export function expectLength(value: ArrayLike<number>, name: string, length: number): void {
  if (value.length !== length) throw argumentError(`an array of ${length} values`, name, value);
}
