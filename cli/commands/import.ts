/** `orewatch import <kind> <file>`: store a versioned reference layer. */
import { basename } from 'node:path';
import type { Command } from 'commander';
import { inputError } from '../../errors/index.js';
import { loadReferenceLayer } from '../../geodata/reference-layers/index.js';
import type { LayerKind } from '../../geodata/reference-layers/types.js';
import { openDatabase } from '../../pipeline/store/database.js';
import { storeLayer } from '../../pipeline/store/layer-store.js';
import { migrate } from '../../pipeline/store/migrations.js';

const KINDS: Record<string, LayerKind> = {
  permits: 'permits',
  'closed-sites': 'closed_sites',
  'protected-areas': 'protected_areas',
  jurisdictions: 'jurisdictions',
};

export function registerImport(program: Command): void {
  program
    .command('import')
    .description('import a reference layer (permits, closed-sites, protected-areas, jurisdictions) as a new version in the store')
    .argument('<kind>', `one of: ${Object.keys(KINDS).join(', ')}`)
    .argument('<file>', 'GeoJSON, KML, zipped Shapefile, or (permits) CGCS2000 corner-point CSV')
    .option('--name <name>', 'layer name (default: the file name); a new version when the content changed')
    .option('--permits-crs <EPSG:NNNN>', 'CRS of permit corner coordinates without a zone prefix')
    .option('--data-dir <dir>', 'embedded store directory (ignored when DATABASE_URL is set)', '.orewatch')
    .action(async (kindArg: string, file: string, flags: { name?: string; permitsCrs?: string; dataDir: string }) => {
      const kind = KINDS[kindArg];
      if (!kind) throw inputError('IMPORT.BAD_KIND', `Expected one of ${Object.keys(KINDS).join(', ')} for <kind> but received "${kindArg}"`);
      const layer = await loadReferenceLayer(file, { kind, crs: flags.permitsCrs });
      const db = await openDatabase({ dataDir: flags.dataDir, databaseUrl: process.env.DATABASE_URL || undefined, schema: process.env.OREWATCH_DB_SCHEMA || undefined });
      try {
        await migrate(db);
        const ref = await db.transaction((tx) => storeLayer(tx, layer, flags.name ?? basename(file)));
        process.stdout.write(`${ref.created ? 'imported' : 'unchanged'}: ${kindArg} layer "${ref.name}" version ${ref.version}, ` +
          `${layer.features.length} features, sha256 ${ref.sha256.slice(0, 12)}… into ${db.location}\n`);
      } finally {
        await db.close();
      }
    });
}
