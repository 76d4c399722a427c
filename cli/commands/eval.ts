/** `orewatch eval`: runs scans on generated scenarios with ground truth and prints the figures. */
import type { Command } from 'commander';
import { inputError } from '../../errors/index.js';
import { createDetector, DETECTOR_NAMES } from '../../models/registry.js';
import { formatComparison, formatEvaluation, runEvaluation, type EvaluationResult } from '../../workers/evaluate.js';

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('evaluate detector and rules on generated scenes with ground truth (recall, precision, category accuracy)')
    .option('--seeds <list>', 'comma-separated seeds or a range a-b', '101-110')
    .option('--size <px>', 'scene size in pixels', '512')
    .option('--sensor <s2|gf>', 's2: six bands with SWIR; gf: four bands (blue, green, red, NIR)', 's2')
    .option('--work-dir <dir>', 'where scenes and stores are written (default: a temporary folder)')
    .option('--detector <names>', 'comma-separated detectors, evaluated side by side on the same scenes', 'spectral,onnx')
    .option('--model <file.onnx>', 'onnx detector: another model file, with its manifest.json beside it')
    .option('--traps <kind=n,…>', 'trap counts per scene instead of the defaults, e.g. harvest=6,road=6 (a stress set)')
    .option('--json', 'print the figures as JSON')
    .action(async (flags: { seeds: string; size: string; sensor: string; workDir?: string; detector: string; model?: string; traps?: string; json?: boolean }) => {
      const seeds = parseSeeds(flags.seeds);
      const size = Number(flags.size);
      if (!(Number.isInteger(size) && size >= 128)) throw inputError('EVAL.BAD_SIZE', `--size: expected an integer ≥ 128 but received "${flags.size}"`);
      if (flags.sensor !== 's2' && flags.sensor !== 'gf') throw inputError('EVAL.BAD_SENSOR', `--sensor: expected s2 or gf but received "${flags.sensor}"`);
      const names = flags.detector.split(',').map((s) => s.trim()).filter(Boolean);
      for (const name of names) {
        if (!(DETECTOR_NAMES as readonly string[]).includes(name)) throw inputError('EVAL.BAD_DETECTOR', `--detector: expected names from ${DETECTOR_NAMES.join(', ')} but received "${name}"`);
      }
      if (names.length === 0) throw inputError('EVAL.BAD_DETECTOR', '--detector: no detector given');
      if (flags.model !== undefined && !names.includes('onnx')) throw inputError('EVAL.BAD_MODEL', '--model: applies to the onnx detector, which --detector does not name');
      const traps = flags.traps === undefined ? undefined : parseTraps(flags.traps);
      const detectors = names.map((name) => createDetector(name, name === 'onnx' ? { modelPath: flags.model } : {}));
      const results: EvaluationResult[] = [];
      for (const detector of detectors) {
        results.push(await runEvaluation({ seeds, size, sensor: flags.sensor, workDir: flags.workDir, detector, traps }));
        if (!flags.json) process.stdout.write(`${formatEvaluation(results[results.length - 1]!)}\n\n`);
      }
      process.stdout.write(flags.json ? `${JSON.stringify(results.length === 1 ? results[0] : results, null, 2)}\n` : `${formatComparison(results)}\n`);
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

/** `harvest=6,road=6` → { harvest: 6, road: 6 } (kinds are checked by the generator). */
export function parseTraps(value: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z]+)=(\d+)$/.exec(part);
    if (!m) throw inputError('EVAL.BAD_TRAPS', `--traps: expected kind=count pairs like harvest=6,road=6 but received "${part}"`);
    out[m[1]!] = Number(m[2]);
  }
  return out;
}
