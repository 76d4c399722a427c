/**
 * The words of exports, in Simplified Chinese and English, as ../shared/GLOSSARY.md has them:
 * categories, statuses, confidence, and the labels of the attribute table. Every category is a
 * suspicion (疑似).
 */
import type { AlertStatus, Category, Confidence } from '../types.js';

export type Lang = 'zh' | 'en';
export const LANGS: readonly Lang[] = ['zh', 'en'];

export interface Label {
  zh: string;
  en: string;
}

export const CATEGORY_LABELS: Record<Category, Label> = {
  unlicensed: { zh: '无证开采（疑似）', en: 'suspected unlicensed mining' },
  out_of_bounds: { zh: '越界开采（疑似）', en: 'suspected mining beyond permit boundary' },
  exploration_only: { zh: '以采代探（疑似）', en: 'suspected extraction under an exploration permit' },
  expired_permit: { zh: '许可证失效后开采（疑似）', en: 'suspected mining on an invalid permit' },
  closed_site_reactivated: { zh: '关闭矿点复采（疑似）', en: 'suspected reactivation of a closed site' },
  protected_area: { zh: '保护区内开采（疑似，生态保护红线等）', en: 'suspected mining in a protected area' },
};

export const STATUS_LABELS: Record<AlertStatus, Label> = {
  new: { zh: '新发现', en: 'new' },
  triaged: { zh: '已分派', en: 'triaged' },
  suspected_illegal: { zh: '疑似违法', en: 'suspected illegal' },
  pseudo_change: { zh: '伪变化', en: 'pseudo-change' },
  licensed: { zh: '合法（许可范围内）', en: 'licensed' },
  needs_field_check: { zh: '需外业核查', en: 'needs field check' },
  field_verified_illegal: { zh: '核查属实（违法）', en: 'verified illegal in the field' },
  field_verified_legal: { zh: '核查合法', en: 'verified legal in the field' },
  rectification: { zh: '整改中', en: 'under rectification' },
  closed: { zh: '已销号', en: 'closed' },
};

export const CONFIDENCE_LABELS: Record<Confidence, Label> = {
  provisional: { zh: '待确认（单次观测）', en: 'provisional' },
  confirmed: { zh: '已确认（多次观测）', en: 'confirmed' },
};

export const PERMIT_TYPE_LABELS: Record<string, Label> = {
  mining: { zh: '采矿许可证（采矿权）', en: 'mining permit' },
  exploration: { zh: '勘查许可证（探矿权）', en: 'exploration permit' },
};

/** A label of a known key, or the key itself in both languages. */
export function labelOf(table: Record<string, Label>, key: string | null): Label {
  if (key === null || key === '') return { zh: '', en: '' };
  return table[key] ?? { zh: key, en: key };
}

/** "中文 English", the form of bilingual headings. */
export function bilingual(label: Label): string {
  return label.zh === label.en ? label.zh : `${label.zh} ${label.en}`;
}
