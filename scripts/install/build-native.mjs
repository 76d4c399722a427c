#!/usr/bin/env node
// Builds orewatch's native block decoding (geodata/tiff/native: libdeflate and the uint16 copy
// loops) with node-gyp; run by `npm install` (the package's `install` script) and by hand with
// `node scripts/install/build-native.mjs`. The build needs a C compiler, make and Python, and
// Node's headers (node-gyp finds them with `nodedir`, or downloads them where it may).
//
// A failed build never fails the install: orewatch then decodes with Node's zlib and its
// JavaScript loops (the same pixels, slower), and says so here. OREWATCH_NATIVE=0 skips the build.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = join(root, 'geodata', 'tiff', 'native');

function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((file) => file && existsSync(file)) ?? null;
}

function fallback(why) {
  process.stderr.write(`orewatch: the native block decoder was not built (${why}); blocks are decoded with Node's zlib and JavaScript instead: the same pixels, about half as fast\n`);
  process.exit(0);
}

if (process.env.OREWATCH_NATIVE === '0') {
  process.stdout.write('orewatch: OREWATCH_NATIVE=0, native block decoder not built\n');
  process.exit(0);
}
const gyp = nodeGyp();
if (!gyp) fallback('node-gyp was not found');
// Node's own headers where they are installed beside it (Debian's nodejs, the official
// tarballs): no download.
const prefix = resolve(dirname(process.execPath), '..');
const nodedir = process.env.npm_config_nodedir ?? (existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : null);
const started = performance.now();
const run = spawnSync(process.execPath, [gyp, 'rebuild', '--release', ...(nodedir ? [`--nodedir=${nodedir}`] : [])], { cwd: dir, encoding: 'utf8' });
if (run.error || run.status !== 0) {
  const tail = `${run.stdout ?? ''}${run.stderr ?? ''}`.trim().split('\n').slice(-12).join('\n');
  if (tail) process.stderr.write(`${tail}\n`);
  fallback(run.error ? run.error.message : `node-gyp exited with ${run.status}`);
}
process.stdout.write(`orewatch: built the native block decoder (libdeflate) in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
