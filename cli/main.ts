/**
 * The `orewatch` command line: parses flags (commander), runs the command, and maps errors to the
 * exit codes of DESIGN.md — 0 done; 2 bad input or usage, with a message naming the file and the
 * problem; 1 anything else.
 */
import { Command, CommanderError, Option } from 'commander';
import { isOrewatchError } from '../errors/index.js';
import { registerScan } from './commands/scan.js';
import { registerImport } from './commands/import.js';
import { registerEval } from './commands/eval.js';
import { registerDemo } from './commands/demo.js';
import { registerWorker } from './commands/worker.js';
import { registerStatus } from './commands/status.js';
import { registerAoi } from './commands/aoi.js';
import { registerExport } from './commands/export.js';
import { registerUser } from './commands/user.js';
import { registerServe } from './commands/serve.js';
import { VERSION } from './version.js';

export { Option };

export async function runCli(argv: string[]): Promise<number> {
  const program = new Command()
    .name('orewatch')
    .description('Finds suspected illegal and out-of-bounds mining in satellite imagery and explains every alert.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .showHelpAfterError('(run `orewatch --help` or `orewatch <command> --help` for usage)');
  registerScan(program);
  registerImport(program);
  registerEval(program);
  registerDemo(program);
  registerWorker(program);
  registerStatus(program);
  registerAoi(program);
  registerExport(program);
  registerUser(program);
  registerServe(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
      return 2;
    }
    if (isOrewatchError(error)) {
      process.stderr.write(`orewatch: ${error.message}${error.kind === 'internal' ? '' : ` [${error.code}]`}\n`);
      return error.kind === 'input' || error.kind === 'config' ? 2 : 1;
    }
    process.stderr.write(`orewatch: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
    return 1;
  }
}
