/**
 * The pure parts of triage access and flow: division prefixes and scopes per role, the SQL a scope
 * gives (values as parameters, never in the text), and the decision table of UX.md §3.
 */
import { describe, expect, it } from 'vitest';
import { checkDecision, decisionsFor } from '../api/decisions.js';
import { divisionPrefix, scopeCovers, scopeOf, scopeSql } from '../api/scope.js';
import { checkUserSpec } from '../api/users.js';

describe('scope', () => {
  it('nests division codes: province → city → county', () => {
    expect(divisionPrefix('360000')).toBe('36');
    expect(divisionPrefix('360700')).toBe('3607');
    expect(divisionPrefix('360728')).toBe('360728');
    expect(() => divisionPrefix("36' OR 1=1")).toThrow(/6-digit/);
  });

  it('gives each role its scope', () => {
    expect(scopeOf({ role: 'admin', codes: [] })).toEqual({ kind: 'all' });
    expect(scopeOf({ role: 'analyst', codes: [] })).toEqual({ kind: 'all' });
    expect(scopeOf({ role: 'supervisor', codes: ['360700', '360728'] })).toEqual({ kind: 'prefixes', prefixes: ['3607', '360728'] });
    expect(scopeOf({ role: 'county', codes: ['360728'] })).toEqual({ kind: 'prefixes', prefixes: ['360728'] });
    expect(scopeOf({ role: 'province', codes: ['360000'] })).toEqual({ kind: 'prefixes', prefixes: ['36'] });
    // A county or province user without a jurisdiction sees nothing, never everything.
    expect(scopeOf({ role: 'county', codes: [] })).toEqual({ kind: 'prefixes', prefixes: [] });
    const province = scopeOf({ role: 'province', codes: ['360000'] });
    expect(scopeCovers(province, '360728')).toBe(true);
    expect(scopeCovers(province, '440222')).toBe(false);
    expect(scopeCovers(province, null)).toBe(false);
  });

  it('turns a scope into SQL with its values as parameters', () => {
    const params: unknown[] = [];
    const param = (v: unknown) => { params.push(v); return `$${params.length}`; };
    expect(scopeSql({ kind: 'prefixes', prefixes: ['36', '4402'] }, param)).toBe('(scope_code LIKE $1 OR scope_code LIKE $2)');
    expect(params).toEqual(['36%', '4402%']);
    expect(scopeSql({ kind: 'prefixes', prefixes: [] }, param)).toBe('FALSE');
    expect(scopeSql({ kind: 'all' }, param)).toBe('TRUE');
  });

  it('checks a new user: county needs one county, province one province, admin none', () => {
    expect(checkUserSpec({ username: 'wang', role: 'county', jurisdictions: ['360728'] })).toBe('county');
    expect(() => checkUserSpec({ username: 'wang', role: 'county', jurisdictions: ['360700'] })).toThrow(/county code/);
    expect(() => checkUserSpec({ username: 'wang', role: 'county', jurisdictions: ['360728', '360729'] })).toThrow(/county code/);
    expect(() => checkUserSpec({ username: 'li', role: 'province', jurisdictions: ['360700'] })).toThrow(/province code/);
    expect(() => checkUserSpec({ username: 'root', role: 'admin', jurisdictions: ['360000'] })).toThrow(/admin/);
    expect(checkUserSpec({ username: 'zhao', role: 'analyst', jurisdictions: ['360700', '360728'] })).toBe('analyst');
  });
});

describe('decision table', () => {
  it('lets each role set only its statuses', () => {
    expect(decisionsFor('analyst').sort()).toEqual(['licensed', 'needs_field_check', 'pseudo_change', 'suspected_illegal']);
    expect(decisionsFor('county').sort()).toEqual(['field_verified_illegal', 'field_verified_legal', 'needs_field_check', 'rectification']);
    expect(decisionsFor('province').sort()).toEqual(['closed', 'needs_field_check']);
  });

  it('answers 403 for a status the role never sets, 409 for one out of order, 422 for a missing reason or note', () => {
    expect(checkDecision('county', 'new', 'suspected_illegal', undefined, undefined)).toMatchObject({ ok: false, status: 403 });
    expect(checkDecision('county', 'new', 'rectification', undefined, 'x')).toMatchObject({ ok: false, status: 409 });
    expect(checkDecision('analyst', 'new', 'pseudo_change', undefined, undefined)).toMatchObject({ ok: false, status: 422, code: 'DECISION.REASON_REQUIRED' });
    expect(checkDecision('analyst', 'new', 'pseudo_change', 'other', 'abcd')).toMatchObject({ ok: false, status: 422, code: 'DECISION.NOTE_REQUIRED' });
    expect(checkDecision('analyst', 'new', 'pseudo_change', 'other', '施工便道。')).toEqual({ ok: true });
    expect(checkDecision('analyst', 'new', 'pseudo_change', 'harvest', undefined)).toEqual({ ok: true });
    expect(checkDecision('analyst', 'new', 'licensed', undefined, undefined)).toMatchObject({ ok: false, status: 422 });
    expect(checkDecision('analyst', 'new', 'licensed', undefined, 'C3600002019')).toEqual({ ok: true });
    expect(checkDecision('analyst', 'new', 'suspected_illegal', 'cloud', undefined)).toMatchObject({ ok: false, code: 'DECISION.REASON_NOT_EXPECTED' });
    expect(checkDecision('analyst', 'suspected_illegal', 'suspected_illegal', undefined, undefined)).toMatchObject({ ok: false, status: 409 });
    // The province sends back with a reason; closes with a note.
    expect(checkDecision('province', 'rectification', 'needs_field_check', undefined, undefined)).toMatchObject({ ok: false, status: 422 });
    expect(checkDecision('province', 'rectification', 'closed', undefined, '整改到位')).toEqual({ ok: true });
  });
});
