/**
 * Who sees which alerts. A user covers division codes (6 digits: 2 province, 2 city, 2 county); a
 * code covers every code that starts with its prefix (`360000` → `36…`, `360700` → `3607…`). An
 * alert belongs to the county it is routed to (`scope_code`: a person's routing, else the scan's).
 * Pure functions: the SQL they return takes its values as parameters.
 */
export const ROLES = ['analyst', 'supervisor', 'county', 'province', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  userId: number;
  username: string;
  role: Role;
  /** Division codes the user covers; empty for admins and unrestricted analysts/supervisors. */
  codes: string[];
  language: 'zh-CN' | 'en';
  preferences: Record<string, unknown>;
}

export type Scope = { kind: 'all' } | { kind: 'prefixes'; prefixes: string[] };

/** The prefix shared by the codes a division contains: `360000` → `36`, `360700` → `3607`, `360728` → `360728`. */
export function divisionPrefix(code: string): string {
  if (!/^\d{6}$/.test(code)) throw new Error(`Expected a 6-digit division code but received "${code}"`);
  if (code.endsWith('0000')) return code.slice(0, 2);
  if (code.endsWith('00')) return code.slice(0, 4);
  return code;
}

/**
 * What a user may see. Admins see everything; analysts and supervisors without an assignment cover
 * the whole country (the central triage team), with one they cover what it names; county and
 * province users exactly their division, and nothing if they have none.
 */
export function scopeOf(user: Pick<Principal, 'role' | 'codes'>): Scope {
  if (user.role === 'admin') return { kind: 'all' };
  if ((user.role === 'analyst' || user.role === 'supervisor') && user.codes.length === 0) return { kind: 'all' };
  return { kind: 'prefixes', prefixes: [...new Set(user.codes.map(divisionPrefix))] };
}

/** True when a division code lies inside the scope. */
export function scopeCovers(scope: Scope, code: string | null): boolean {
  if (scope.kind === 'all') return true;
  return code !== null && scope.prefixes.some((p) => code.startsWith(p));
}

/**
 * SQL condition over `alerts` limiting rows to the scope; `param` turns a value into a placeholder.
 * Prefixes are digits only (checked above), so LIKE sees no wildcard but the trailing `%`.
 */
export function scopeSql(scope: Scope, param: (value: unknown) => string, column = 'scope_code'): string {
  if (scope.kind === 'all') return 'TRUE';
  if (scope.prefixes.length === 0) return 'FALSE';
  return `(${scope.prefixes.map((p) => `${column} LIKE ${param(`${p}%`)}`).join(' OR ')})`;
}
