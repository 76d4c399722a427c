/** The orewatch version, read from package.json once. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

function findPackageJson(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'package.json');
    try {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'orewatch' && pkg.version) return pkg.version;
    } catch { /* keep looking upwards */ }
    dir = dirname(dir);
  }
  return '0.0.0';
}

export const VERSION = findPackageJson();
