// Renders evidence reports of the first alerts of an embedded store, for a look at the layout.
//   npx tsx scripts/dev/report-sample.mts <data-dir> <out.pdf> [zh|en] [n]
import { openDatabase } from '../../pipeline/store/database.js';
import { listAlerts } from '../../pipeline/store/alert-store.js';
import { writeAlertsPdf } from '../../workers/export/pdf-report.js';

const [dataDir, out, lang = 'zh', n = '2'] = process.argv.slice(2);
const db = await openDatabase({ dataDir });
try {
  const alerts = (await listAlerts(db)).sort((a, b) => b.area_ha - a.area_ha).slice(0, Number(n));
  const t0 = performance.now();
  const r = await writeAlertsPdf({ db, alertIds: alerts.map((a) => a.alert_id), lang: lang as 'zh' | 'en', out });
  console.log(`${alerts.length} report(s), ${r.pages} pages in ${((performance.now() - t0) / 1000).toFixed(2)} s → ${out}`);
} finally {
  await db.close();
}
