/** `orewatch eval`: runs scans on generated scenarios with ground truth and prints the figures. */
import type { Command } from 'commander';
import { inputError } from '../../errors/index.js';
import { runEvaluation, formatEvaluation } from '../../workers/evaluate.js';

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('evaluate detector and rules on generated scenes with ground truth (recall, precision, category accuracy)')
    .option('--seeds <list>', 'comma-separated seeds or a range a-b', '101-110')
    .option('--size <px>', 'scene size in pixels', '512')
    .option('--sensor <s2|gf>', 's2: six bands with SWIR; gf: four bands (blue, green, red, NIR)', 's2')
    .option('--work-dir <dir>', 'where scenes and stores are written (default: a temporary folder)')
    .option('--json', 'print the figures as JSON')
    .action(async (flags: { seeds: string; size: string; sensor: string; workDir?: string; json?: boolean }) => {
      const seeds = parseSeeds(flags.seeds);
      const size = Number(flags.size);
      if (!(Number.isInteger(size) && size >= 128)) throw inputError('EVAL.BAD_SIZE', `--size: expected an integer ≥ 128 but received "${flags.size}"`);
      if (flags.sensor !== 's2' && flags.sensor !== 'gf') throw inputError('EVAL.BAD_SENSOR', `--sensor: expected s2 or gf but received "${flags.sensor}"`);
      const result = await runEvaluation({ seeds, size, sensor: flags.sensor, workDir: flags.workDir });
      process.stdout.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatEvaluation(result)}\n`);
    });
}

export function parseSeeds(value: string): number[] {
  const seeds: number[] = [];
  for (const part of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const range = /^(\d+)-(\d+)$/.exec(part);
    if (range) {
      const [a, b] = [Number(range[1]), Number(range[2])];
      if (b < a || b - a > 1000) throw inputError('EVAL.BAD_SEEDS', `--seeds: bad range "${part}"`);
      for (let s = a; s <= b; s++) seeds.push(s);
    } else if (/^\d+$/.test(part)) {
      seeds.push(Number(part));
    } else {
      throw inputError('EVAL.BAD_SEEDS', `--seeds: expected numbers or ranges like 1-10 but received "${part}"`);
    }
  }
  if (seeds.length === 0) throw inputError('EVAL.BAD_SEEDS', '--seeds: no seeds given');
  return seeds;
}
