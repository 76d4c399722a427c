/**
 * Problems found while importing a layer. They are collected rather than thrown one by one, so a
 * user sees every bad row in one message and fixes the file once; `throwIfAny` turns them into a
 * single input error whose code is that of the first problem.
 */
import { inputError, type OrewatchError } from '../../errors/index.js';

export interface Problem {
  /** Stable code, e.g. `PERMIT.BAD_DATE`. */
  code: string;
  /** Where in the file: `row 7`, `features[2] (permit_id 'C36…')`, `Placemark 3`. */
  where: string;
  /** The field (column, property) concerned, when there is one. */
  field?: string;
  /** What is wrong, naming the bad value. */
  message: string;
}

/** How many problems one error message lists before "… and N more". */
export const MAX_LISTED_PROBLEMS = 10;

export class Problems {
  readonly list: Problem[] = [];

  add(code: string, where: string, message: string, field?: string): void {
    this.list.push(field === undefined ? { code, where, message } : { code, where, field, message });
  }

  get size(): number {
    return this.list.length;
  }

  /** Throws one input error listing the problems (the first ten), or returns when there are none. */
  throwIfAny(file: string, what: string): void {
    if (this.list.length > 0) throw problemsError(file, what, this.list);
  }
}

/** Shows a value the way the user typed it: strings quoted, long ones cut. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return `'${value.length > 60 ? `${value.slice(0, 57)}...` : value}'`;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'an invalid date' : `'${value.toISOString()}'`;
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

export function formatProblem(problem: Problem): string {
  return `${problem.where}${problem.field === undefined ? '' : `, field ${problem.field}`}: ${problem.message}`;
}

/** One input error for a list of problems; `cause` carries the full list for API callers. */
export function problemsError(file: string, what: string, problems: Problem[]): OrewatchError {
  const first = problems[0] as Problem;
  const listed = problems.slice(0, MAX_LISTED_PROBLEMS).map((p) => `  - ${formatProblem(p)}`);
  const more = problems.length > MAX_LISTED_PROBLEMS ? [`  … and ${problems.length - MAX_LISTED_PROBLEMS} more`] : [];
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  const message = [`${file}: ${count} in ${what}:`, ...listed, ...more].join('\n');
  return inputError(first.code, message, file, { problems });
}
