#!/usr/bin/env node
// The `orewatch` command. The TypeScript sources are compiled to dist/ by `npm ci` (the
// `prepare` script) or `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli', 'main.js');
if (!existsSync(main)) {
  process.stderr.write('orewatch: not built yet — run `npm run build` (or `npm ci`) in the project first\n');
  process.exit(1);
}
const { runCli } = await import(main);
process.exitCode = await runCli(process.argv.slice(2));
