const { PGlite } = await import('@electric-sql/pglite');
const rss = () => (process.memoryUsage().rss / 1048576).toFixed(0) + ' MB';
const opts = JSON.parse(process.argv[2] ?? '{}');
const t0 = Date.now();
const db = await PGlite.create(process.argv[3] ?? '/tmp/ow/memdb2', opts);
await db.query('select 1');
console.log(JSON.stringify(opts), 'open', rss(), Date.now() - t0, 'ms', JSON.stringify(process.memoryUsage()));
await db.close();
