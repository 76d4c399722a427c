/** `orewatch worker`: a server-mode worker process (REDIS_URL, DATABASE_URL). */
import type { Command } from 'commander';
import { inputError } from '../../errors/index.js';
import { serverConfigFromEnv } from '../../workers/server/config.js';
import { QUEUE_NAMES, type QueueName } from '../../workers/server/queues.js';
import { startWorkerProcess } from '../../workers/server/worker-process.js';

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run a server-mode worker: consumes scan, window and discovery jobs from Redis (REDIS_URL), stores in PostgreSQL (DATABASE_URL)')
    .option('--concurrency <n>', 'window jobs at once, each in its own thread (default: OREWATCH_CONCURRENCY, else the number of CPUs)')
    .option('--queues <names>', `queues to consume, comma-separated (default: all: ${QUEUE_NAMES.join(',')})`)
    .action(async (flags: { concurrency?: string; queues?: string }) => {
      let concurrency: number | undefined;
      if (flags.concurrency !== undefined) {
        concurrency = Number(flags.concurrency);
        if (!Number.isInteger(concurrency) || concurrency < 1) throw inputError('WORKER.BAD_CONCURRENCY', `--concurrency: expected a positive integer but received "${flags.concurrency}"`);
      }
      let queues: QueueName[] | undefined;
      if (flags.queues !== undefined) {
        const names = flags.queues.split(',').map((s) => s.trim()).filter(Boolean);
        const unknown = names.filter((n) => !(QUEUE_NAMES as readonly string[]).includes(n));
        if (names.length === 0 || unknown.length > 0) throw inputError('WORKER.BAD_QUEUES', `--queues: expected names among ${QUEUE_NAMES.join(', ')} but received "${flags.queues}"`);
        queues = names as QueueName[];
      }
      const config = serverConfigFromEnv(process.env, concurrency ? { concurrency } : {});
      const worker = await startWorkerProcess({ config, queues });
      let signals = 0;
      const onSignal = (signal: NodeJS.Signals) => {
        signals++;
        if (signals > 1) {
          process.stderr.write(`orewatch worker: second ${signal}; exiting now, running jobs will be retried by other workers\n`);
          process.exit(130);
        }
        void worker.stop();
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      process.exitCode = await worker.exited;
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      if (process.exitCode !== 0) {
        await Promise.race([worker.stop(), new Promise((resolve) => setTimeout(resolve, 10_000))]);
      }
      // Whatever a library left open (a reconnecting socket), the process ends now.
      const code = process.exitCode;
      setTimeout(() => process.exit(code), 2_000).unref();
    });
}
