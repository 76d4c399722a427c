/** `orewatch serve`: the triage web app and its HTTP API, on the embedded store or PostgreSQL. */
import type { Command } from 'commander';
import { inputError } from '../../errors/index.js';
import { openDatabase } from '../../pipeline/store/database.js';
import { migrate } from '../../pipeline/store/migrations.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve the triage web app and the HTTP API under /api (embedded store in --data-dir, or PostgreSQL with DATABASE_URL)')
    .option('--port <n>', 'TCP port', '8080')
    .option('--host <address>', 'address to listen on (0.0.0.0 for every interface)', '127.0.0.1')
    .option('--secure-cookies', 'mark the session cookie Secure (when served over HTTPS)')
    .option('--trust-proxy', 'behind a reverse proxy: take the client address from X-Forwarded-For')
    .option('--data-dir <dir>', 'embedded store directory (ignored when DATABASE_URL is set)', '.orewatch')
    .action(async (flags: { port: string; host: string; secureCookies?: boolean; trustProxy?: boolean; dataDir: string }) => {
      const port = Number(flags.port);
      if (!/^\d{1,5}$/.test(flags.port) || port > 65535) throw inputError('SERVE.BAD_PORT', `Expected a port 0–65535 for --port but received "${flags.port}"`);
      const db = await openDatabase({ dataDir: flags.dataDir, databaseUrl: process.env.DATABASE_URL || undefined, schema: process.env.OREWATCH_DB_SCHEMA || undefined, poolSize: 8 });
      await migrate(db);
      // Loaded here, not at start-up: other commands need no HTTP server.
      const { createTriageServer } = await import('../../api/server.js');
      const app = await createTriageServer({ db, secureCookies: flags.secureCookies, trustProxy: flags.trustProxy, logger: { level: 'warn' } });
      const address = await app.listen({ port, host: flags.host });
      process.stdout.write(`orewatch serving ${address} (store: ${db.location})\n`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await app.close();
      await db.close();
      process.stdout.write('orewatch serve stopped\n');
    });
}
