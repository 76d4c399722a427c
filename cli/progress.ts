/**
 * A progress bar on stderr, shown only for work that runs longer than a couple of seconds and
 * only on a terminal (logs and CI stay clean).
 */
import cliProgress from 'cli-progress';

export function createProgress(label: string, delayMs = 2000) {
  const started = Date.now();
  let bar: cliProgress.SingleBar | null = null;
  return {
    update(done: number, total: number, stage: string) {
      if (!process.stderr.isTTY) return;
      if (!bar && Date.now() - started < delayMs) return;
      if (!bar) {
        bar = new cliProgress.SingleBar({ stream: process.stderr, format: `${label} [{bar}] {percentage}% | {value}/{total} {stage} | eta {eta}s`, hideCursor: true }, cliProgress.Presets.shades_classic);
        bar.start(total, done, { stage });
      }
      bar.update(done, { stage });
    },
    stop() {
      bar?.stop();
    },
  };
}
