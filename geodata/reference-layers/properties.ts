/**
 * Attribute normalization: permit fields in English or Chinese (as published: 许可证号, 矿业权人,
 * 类型 采矿权/探矿权, 有效期起/止, 状态 有效 …) become the English keys and values the rules use;
 * jurisdictions need a 6-digit division code and a name. Each function checks one field and
 * reports what is wrong with it rather than guessing.
 */
import type { JurisdictionProperties, PermitProperties, PermitStatus, PermitType } from './types.js';
import { type Problems, show } from './problems.js';

/** Accepted names per normalized field, compared after trimming and lower-casing. */
export const PERMIT_FIELD_ALIASES: Record<keyof PermitProperties, readonly string[]> = {
  permit_id: ['permit_id', 'permitid', 'permit_no', 'license_no', 'licence_no', '许可证号', '许可证编号', '证号'],
  holder: ['holder', 'permit_holder', '矿业权人', '权利人', '采矿权人', '探矿权人'],
  type: ['type', 'permit_type', '类型', '矿业权类型', '许可证类型'],
  mineral: ['mineral', 'commodity', '矿种', '开采矿种', '勘查矿种', '主矿种'],
  valid_from: ['valid_from', 'validfrom', 'start_date', '有效期起', '有效期起始', '有效期开始', '起始日期'],
  valid_to: ['valid_to', 'validto', 'end_date', '有效期止', '有效期至', '有效期截止', '截止日期'],
  status: ['status', '状态', '许可证状态'],
};

export const JURISDICTION_FIELD_ALIASES = {
  code: ['code', 'adcode', 'ad_code', 'xzqdm', '行政区划代码', '区划代码', '代码'],
  name: ['name', 'xzqmc', '名称', '行政区名称', '行政区划名称'],
} as const;

/** Property keys looked at for the id of closed sites and protected areas, in order. */
export const ID_FIELD_ALIASES = ['id', 'name', 'code', '编号', '名称', '代码'] as const;

/** The key of `properties` matching one of `aliases` (trimmed, case-insensitive), or null. */
export function findKey(properties: Record<string, unknown>, aliases: readonly string[]): string | null {
  const wanted = new Set(aliases.map((a) => a.toLowerCase()));
  for (const key of Object.keys(properties)) {
    if (wanted.has(key.trim().toLowerCase())) return key;
  }
  return null;
}

/** A property value as trimmed text, or null when absent or blank. Numbers become their decimal text. */
export function textOf(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value.trim() === '' ? null : value.trim();
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'bigint') return String(value);
  return null;
}

const TYPE_VALUES: Record<string, PermitType> = {
  mining: 'mining', mine: 'mining', '采矿权': 'mining', '采矿': 'mining', '采矿许可证': 'mining', '采矿证': 'mining',
  exploration: 'exploration', '探矿权': 'exploration', '探矿': 'exploration', '勘查许可证': 'exploration',
  '勘查': 'exploration', '探矿证': 'exploration', '勘查许可': 'exploration',
};

/** 'mining' | 'exploration' from English or Chinese (采矿权 / 探矿权), or null. */
export function normalizePermitType(text: string): PermitType | null {
  return TYPE_VALUES[text.trim().toLowerCase()] ?? null;
}

const STATUS_VALUES: Record<string, PermitStatus> = {
  active: 'active', valid: 'active', '有效': 'active', '正常': 'active', '生效': 'active', '在有效期内': 'active',
  expired: 'expired', '已过期': 'expired', '过期': 'expired', '失效': 'expired', '已失效': 'expired', '到期': 'expired', '已到期': 'expired',
  suspended: 'suspended', '暂停': 'suspended', '中止': 'suspended', '已暂停': 'suspended', '停止': 'suspended', '暂扣': 'suspended',
  revoked: 'revoked', cancelled: 'revoked', canceled: 'revoked', withdrawn: 'revoked',
  '注销': 'revoked', '已注销': 'revoked', '吊销': 'revoked', '已吊销': 'revoked', '撤销': 'revoked', '已撤销': 'revoked',
};

/** A permit status from English or Chinese (有效 → active, 已过期 → expired, 暂停 → suspended, 注销/吊销 → revoked), or null. */
export function normalizePermitStatus(text: string): PermitStatus | null {
  return STATUS_VALUES[text.trim().toLowerCase()] ?? null;
}

const MINERALS: Record<string, string> = {
  '稀土': 'rare_earth', '离子型稀土': 'rare_earth', '离子吸附型稀土': 'rare_earth', '轻稀土': 'rare_earth', '重稀土': 'rare_earth',
  '钨': 'tungsten', '锡': 'tin', '钼': 'molybdenum', '金': 'gold', '银': 'silver', '铜': 'copper', '铁': 'iron',
  '铅锌': 'lead_zinc', '萤石': 'fluorite', '煤': 'coal', '煤炭': 'coal', '石灰岩': 'limestone',
};

/** A mineral key: known Chinese names (稀土, 稀土矿 → rare_earth), English lower-cased with underscores, else as given. */
export function normalizeMineral(text: string): string {
  const trimmed = text.trim();
  const chinese = MINERALS[trimmed.replace(/矿$/, '')];
  if (chinese !== undefined) return chinese;
  if (/^[A-Za-z][A-Za-z0-9 _-]*$/.test(trimmed)) return trimmed.toLowerCase().replace(/[\s-]+/g, '_');
  return trimmed;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/**
 * A date as YYYY-MM-DD, or null when it is not an unambiguous calendar date. Accepts YYYY-MM-DD
 * and the same order with / . or 年月日 separators and unpadded parts (2019/1/1, 2019年1月1日),
 * YYYYMMDD, and Date values (dBase D fields). Day-first or month-first forms are refused: 01/02/2019
 * means different days in different offices.
 */
export function normalizeDate(value: unknown): string | null {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) return null;
    // parsedbf builds dBase dates in local time; read them back the same way.
    return `${value.getFullYear()}-${pad2(value.getMonth() + 1)}-${pad2(value.getDate())}`;
  }
  const text = textOf(value);
  if (text === null) return null;
  const match = /^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$/.exec(text) ?? /^(\d{4})(\d{2})(\d{2})$/.exec(text);
  if (match === null) return null;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return null;
  return `${year}-${pad2(month)}-${pad2(day)}`;
}

/** `permit_id / 许可证号`: the English name and the first Chinese alias of a field. */
function displayName(field: keyof PermitProperties): string {
  const names = PERMIT_FIELD_ALIASES[field];
  const chinese = names.find((n) => /[^\x00-\x7f]/.test(n));
  return chinese === undefined ? field : `${field} / ${chinese}`;
}

/**
 * Checks and normalizes permit attributes. Problems go to `problems` under `where`; returns null
 * when any required field is missing or bad. Messages name the key as the file spells it.
 */
export function normalizePermitProperties(
  properties: Record<string, unknown>,
  where: string,
  problems: Problems,
): PermitProperties | null {
  const before = problems.size;
  const get = (field: keyof PermitProperties): { key: string; value: unknown } | null => {
    const key = findKey(properties, PERMIT_FIELD_ALIASES[field]);
    return key === null ? null : { key, value: properties[key] };
  };
  const missing = (field: keyof PermitProperties): void => {
    problems.add('PERMIT.MISSING_FIELD', where, `is missing or empty (${displayName(field)})`, field);
  };

  const idEntry = get('permit_id');
  const permitId = textOf(idEntry?.value);
  if (permitId === null) missing('permit_id');

  const typeEntry = get('type');
  const typeText = textOf(typeEntry?.value);
  let type: PermitType | null = null;
  if (typeText === null) missing('type');
  else {
    type = normalizePermitType(typeText);
    if (type === null) {
      problems.add('PERMIT.BAD_VALUE', where, `${show(typeEntry?.value)} is not a permit type (mining / exploration, 采矿权 / 探矿权)`, typeEntry?.key);
    }
  }

  const dates: Partial<Record<'valid_from' | 'valid_to', string>> = {};
  for (const field of ['valid_from', 'valid_to'] as const) {
    const entry = get(field);
    if (entry === null || (textOf(entry.value) === null && !(entry.value instanceof Date))) {
      missing(field);
      continue;
    }
    const date = normalizeDate(entry.value);
    if (date === null) problems.add('PERMIT.BAD_DATE', where, `${show(entry.value)} is not a date YYYY-MM-DD`, entry.key);
    else dates[field] = date;
  }
  if (dates.valid_from !== undefined && dates.valid_to !== undefined && dates.valid_to < dates.valid_from) {
    problems.add('PERMIT.BAD_DATE', where, `${dates.valid_to} is before valid_from ${dates.valid_from}`, get('valid_to')?.key);
  }

  const statusEntry = get('status');
  const statusText = textOf(statusEntry?.value);
  let status: PermitStatus | null = null;
  if (statusText === null) missing('status');
  else {
    status = normalizePermitStatus(statusText);
    if (status === null) {
      problems.add(
        'PERMIT.BAD_VALUE',
        where,
        `${show(statusEntry?.value)} is not a permit status (active / expired / suspended / revoked, 有效 / 已过期 / 暂停 / 注销)`,
        statusEntry?.key,
      );
    }
  }

  if (problems.size > before || permitId === null || type === null || status === null) return null;
  return {
    permit_id: permitId,
    holder: textOf(get('holder')?.value) ?? '',
    type,
    mineral: normalizeMineral(textOf(get('mineral')?.value) ?? ''),
    valid_from: dates.valid_from as string,
    valid_to: dates.valid_to as string,
    status,
  };
}

/** Checks a jurisdiction's code (6 digits) and name; returns null after reporting a problem. */
export function normalizeJurisdictionProperties(
  properties: Record<string, unknown>,
  where: string,
  problems: Problems,
): JurisdictionProperties | null {
  const codeKey = findKey(properties, JURISDICTION_FIELD_ALIASES.code);
  const nameKey = findKey(properties, JURISDICTION_FIELD_ALIASES.name);
  const code = codeKey === null ? null : textOf(properties[codeKey]);
  const name = nameKey === null ? null : textOf(properties[nameKey]);
  let ok = true;
  if (code === null) {
    problems.add('LAYER.MISSING_FIELD', where, 'is missing (a 6-digit administrative division code, 行政区划代码)', 'code');
    ok = false;
  } else if (!/^\d{6}$/.test(code)) {
    problems.add('LAYER.BAD_VALUE', where, `${show(properties[codeKey as string])} is not a 6-digit administrative division code`, codeKey as string);
    ok = false;
  }
  if (name === null) {
    problems.add('LAYER.MISSING_FIELD', where, 'is missing (the division name, 名称)', 'name');
    ok = false;
  }
  if (!ok) return null;
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(properties)) if (key !== codeKey && key !== nameKey) rest[key] = value;
  return { ...rest, code: code as string, name: name as string };
}
