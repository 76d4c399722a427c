/**
 * TIFF LZW decoding in WebAssembly: the same algorithm as decodeLzw in decoders.ts, 2–3× faster.
 *
 * Our own module rather than a package: the only WebAssembly TIFF LZW decoder on npm
 * (@developmentseed/lzw-tiff-decoder) was 5× slower than our JavaScript one here and truncates a
 * block at the size it is given instead of refusing it. On noisy imagery a code stands for one to
 * three bytes, so the cost per code decides, and JavaScript's bounds-checked typed-array accesses
 * cost more than WebAssembly's linear memory. The module is hand-written: its source is lzw.wat
 * beside this file, assembled with wabt 1.0.39 (npm):
 *   require('wabt')().then((w) => w.parseWat('lzw.wat', text, { bulk_memory: true }).toBinary({}).buffer)
 * and the bytes are below, in base64 (568 bytes). test/tiff-decoders.test.ts checks that it
 * decodes exactly as decodeLzw does, refusals included.
 */

/** The module's exports (see lzw.wat). */
interface LzwExports {
  memory: WebAssembly.Memory;
  decode(input: number, inputLength: number, limit: number): number;
  badCode: WebAssembly.Global;
  badNext: WebAssembly.Global;
}

const MODULE_BASE64 = 'AGFzbQEAAAABCAFgA39/fwF/AwIBAAUDAQABBgsCfwFBAAt/AUEACwcnBAZtZW1vcnkCAAdiYWRDb2RlAwAHYmFkTmV4dAMBBmRlY29kZQAACuQDAeEDAQ9/A0BBgIACIANqIAM6AAAgA0ECdEGAgAIgA2o2AgAgA0ECdEEBNgKAgAEgA0EBaiEDIANBgAJJDQALIAFBA3QhBUEJIQZB/wMhB0H/AyEIQYICIQlBgIICIQpBgIICIAJqIQtBfyEMAkADQCAEIAZqIAVLDQEgACAEQQN2aiERIBEtAABBEHQgES0AAUEIdHIgES0AAnJBGCAEQQdxayAGa3YgB3EhDiAEIAZqIQQgDiAJSSAOQf4fcUGAAkdxBEAgDkECdCgCACEPIA5BAnQoAoCAASEQIAogEGogC0sEQEF/DwsgEEEITQRAIAogDykDADcDAAUgCiAPIBD8CgAACwUgDkGAAkYEQEEJIQZB/wMhB0H/AyEIQYICIQlBfyEMDAILIA5BgQJGDQIgDiAJRyAMQQBIcgRAIA4kACAJJAFBfg8LIA1BAWohECAKIBBqIAtLBEBBfw8LIAogDCAN/AoAACAKIA1qIAwtAAA6AAALIAxBAE4gCUGAIElxBEAgCUECdCAMNgIAIAlBAnQgDUEBajYCgIABIAlBAWohCSAJIAhGIAZBDElxBEAgBkEBaiEGQQEgBnRBAWshByAHIQgLCyAKIQwgECENIAogEGohCgwACwsgCkGAggJrCw==';

/** Where lzw.wat writes its output: after its tables and the 256 one-byte strings. */
const OUTPUT_AT = 33024;

/** Largest block decoded here; larger (rare, untrusted) budgets go to the JavaScript decoder. */
export const WASM_LZW_MAX_BYTES = 64 * 1024 * 1024;

let exportsOfModule: LzwExports | null = null;

/** The module, instantiated once per thread (synchronously: it is 568 bytes). */
function lzwModule(): LzwExports {
  exportsOfModule ??= new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(MODULE_BASE64, 'base64')), {}).exports as unknown as LzwExports;
  return exportsOfModule;
}

/**
 * Decodes one TIFF LZW block into at most `limit` bytes.
 * @returns a view of the module's memory holding the decoded bytes (starting at a multiple of 8):
 *   valid until the next call on this thread; null when the module's memory cannot grow enough
 *   (the caller then decodes otherwise). Calls `tooLarge` / `corrupt` (which throw) as
 *   decodeLzw does.
 */
export function decodeLzwWasm(input: Uint8Array, limit: number, tooLarge: () => Error, corrupt: (why: string) => Error): Uint8Array | null {
  if (limit > WASM_LZW_MAX_BYTES) return null;
  const lzw = lzwModule();
  const inputAt = (OUTPUT_AT + limit + 16 + 7) & ~7;
  const needed = inputAt + input.length + 8;
  const memory = lzw.memory;
  if (memory.buffer.byteLength < needed) {
    try {
      memory.grow(Math.ceil((needed - memory.buffer.byteLength) / 65536));
    } catch {
      return null;
    }
  }
  const heap = new Uint8Array(memory.buffer);
  heap.set(input, inputAt);
  heap.fill(0, inputAt + input.length, inputAt + input.length + 4);
  const written = lzw.decode(inputAt, input.length, limit);
  if (written === -1) throw tooLarge();
  if (written < 0) throw corrupt(`invalid code ${String(lzw.badCode.value)} (next free code ${String(lzw.badNext.value)})`);
  return new Uint8Array(memory.buffer, OUTPUT_AT, written);
}
