/**
 * The direction of imports (STYLE.md): cli → api → workers → pipeline → models, geodata; errors/ is a
 * leaf everyone may use; geodata imports no other folder; nothing but the CLI and the HTTP API
 * (api/) import workers, and nothing but the CLI imports api/.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const ALLOWED: Record<string, string[]> = {
  errors: [],
  geodata: ['errors'],
  models: ['errors', 'geodata'],
  pipeline: ['errors', 'geodata', 'models'],
  workers: ['errors', 'geodata', 'models', 'pipeline'],
  // The HTTP API is a second entry point beside the CLI: it composes the store and the evidence
  // rendering of workers/, and only the CLI (its `serve` command) imports it.
  api: ['errors', 'geodata', 'models', 'pipeline', 'workers'],
  cli: ['errors', 'geodata', 'models', 'pipeline', 'workers', 'api'],
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.ts$/.test(name) && !name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('architecture', () => {
  it('imports point one way', () => {
    const violations: string[] = [];
    for (const [folder, allowed] of Object.entries(ALLOWED)) {
      for (const file of sources(join(ROOT, folder))) {
        const text = readFileSync(file, 'utf8');
        for (const match of text.matchAll(/(?:from|import\()\s*['"](\.[^'"]+)['"]/g)) {
          const target = relative(ROOT, resolve(dirname(file), match[1])).split('/')[0];
          if (target !== folder && !allowed.includes(target)) violations.push(`${relative(ROOT, file)} imports ${match[1]}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });
});
