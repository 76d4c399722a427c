/**
 * The decision rules of the triage flow (UX.md §3) as pure functions: which role may move an alert
 * from which status to which, and what each decision needs (a reason from the list for a
 * pseudo-change, a note for licensed activity, field results and closing). The HTTP layer asks
 * these before writing anything.
 */
import type { AlertStatus } from '../pipeline/types.js';
import type { Role } from './scope.js';

/** Pseudo-change reasons, GLOSSARY.md: 农业耕作/收割 · 建设施工 · 云及云影 · 季节性水体 · 其他. */
export const PSEUDO_REASONS = ['harvest', 'construction', 'cloud', 'seasonal_water', 'other'] as const;
export type PseudoReason = (typeof PSEUDO_REASONS)[number];

const TRIAGE_FROM: AlertStatus[] = ['new', 'triaged', 'suspected_illegal', 'pseudo_change', 'licensed', 'needs_field_check'];

interface Transition {
  from: AlertStatus[];
  to: AlertStatus;
}

const TRIAGE: Transition[] = (['suspected_illegal', 'pseudo_change', 'licensed', 'needs_field_check'] as const)
  .map((to) => ({ from: TRIAGE_FROM.filter((s) => s !== to), to }));
const COUNTY: Transition[] = [
  { from: ['new', 'triaged', 'suspected_illegal'], to: 'needs_field_check' },
  { from: ['suspected_illegal', 'needs_field_check'], to: 'field_verified_illegal' },
  { from: ['suspected_illegal', 'needs_field_check'], to: 'field_verified_legal' },
  { from: ['field_verified_illegal'], to: 'rectification' },
];
const PROVINCE: Transition[] = [
  { from: ['rectification', 'field_verified_legal'], to: 'closed' },
  // Send back 退回: the county checks again.
  { from: ['field_verified_illegal', 'field_verified_legal', 'rectification'], to: 'needs_field_check' },
];

export const TRANSITIONS: Record<Role, Transition[]> = {
  analyst: TRIAGE,
  supervisor: TRIAGE,
  county: COUNTY,
  province: PROVINCE,
  admin: [...TRIAGE, ...COUNTY, ...PROVINCE],
};

/** Statuses a role can ever set. */
export function decisionsFor(role: Role): AlertStatus[] {
  return [...new Set(TRANSITIONS[role].map((t) => t.to))];
}

export type DecisionCheck =
  | { ok: true }
  | { ok: false; status: 403 | 409 | 422; code: string; message: string };

/** Minimum length of the note a pseudo-change with reason `other` needs (UX.md §3). */
export const OTHER_NOTE_MIN = 5;

/**
 * Checks one decision. `note` is trimmed by the caller's schema. 403: the role never sets `to`;
 * 409: it may, but not from the alert's current status; 422: a required reason or note is missing.
 */
export function checkDecision(role: Role, from: AlertStatus, to: AlertStatus, reason: PseudoReason | undefined, note: string | undefined): DecisionCheck {
  const transitions = TRANSITIONS[role].filter((t) => t.to === to);
  if (transitions.length === 0) return { ok: false, status: 403, code: 'DECISION.NOT_ALLOWED', message: `a ${role} user cannot set status ${to}` };
  if (!transitions.some((t) => t.from.includes(from))) {
    return { ok: false, status: 409, code: 'DECISION.CONFLICT', message: `the alert is ${from}; ${to} cannot follow it` };
  }
  const hasNote = note !== undefined && note.length > 0;
  if (reason !== undefined && to !== 'pseudo_change') return { ok: false, status: 422, code: 'DECISION.REASON_NOT_EXPECTED', message: `a reason is only given for pseudo_change, not ${to}` };
  if (to === 'pseudo_change') {
    if (reason === undefined) return { ok: false, status: 422, code: 'DECISION.REASON_REQUIRED', message: `pseudo_change needs a reason: one of ${PSEUDO_REASONS.join(', ')}` };
    if (reason === 'other' && (note ?? '').length < OTHER_NOTE_MIN) {
      return { ok: false, status: 422, code: 'DECISION.NOTE_REQUIRED', message: `pseudo_change for reason other needs a note of at least ${OTHER_NOTE_MIN} characters` };
    }
  }
  const needsNote: AlertStatus[] = ['licensed', 'field_verified_illegal', 'field_verified_legal', 'rectification', 'closed'];
  if ((needsNote.includes(to) || (role === 'province' && to === 'needs_field_check')) && !hasNote) {
    return { ok: false, status: 422, code: 'DECISION.NOTE_REQUIRED', message: `${to} needs a note${to === 'licensed' ? ' citing the permit or document' : ''}` };
  }
  return { ok: true };
}
