import { runScan } from '../../workers/scan-runner.js';
import { createSpectralDetector } from '../../models/spectral/spectral-detector.js';
import { rmSync } from 'node:fs';
const d = process.argv[2] ?? 'demo-out/scenes';
rmSync('/tmp/ow/store-t', { recursive: true, force: true });
const o = await runScan({ before: `${d}/before.tif`, after: `${d}/after.tif`, permits: `${d}/permits.geojson`, closedSites: `${d}/closed-sites.geojson`, protectedAreas: `${d}/protected-areas.geojson`, dataDir: '/tmp/ow/store-t' }, createSpectralDetector());
console.log(o.seconds, o.alerts.length);
