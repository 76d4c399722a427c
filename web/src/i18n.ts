/**
 * The app's words in Simplified Chinese and English (GLOSSARY.md terms verbatim), numbers and
 * areas in the reader's locale: "2.40 公顷（36.0 亩）" / "2.40 ha (36.0 mu)". Dates stay
 * `YYYY-MM-DD` in both languages and are never passed through UTC.
 */
export type Lang = 'zh-CN' | 'en';

const zh = {
  title: 'orewatch 预警核查', login: '登录', username: '用户名', password: '密码', loginFailed: '用户名或密码错误', tooMany: '尝试次数过多，请稍后再试',
  logout: '退出', scopeAll: '全部辖区', doneLeft: '今日已处理 {done} · 剩余 {left}', total: '共 {n} 条', search: '搜索预警编号或许可证号',
  queue: '预警队列', filterStatus: '状态', filterCategory: '类别', all: '全部', clear: '清除', sort: '排序',
  sortPriority: '优先级', sortArea: '面积', sortLast: '最近发现', sortScore: '得分',
  before: '前时相', after: '后时相', area: '面积', outside: '许可范围外面积', county: '行政区', centroid: '中心点（经度, 纬度）',
  firstSeen: '首次发现', lastSeen: '最近发现', observations: '观测次数', score: '变化得分', priority: '优先级', confidence: '置信度',
  ruleTrace: '规则判定', thresholds: '所用阈值', permit: '许可证', holder: '矿业权人', validity: '有效期', permitStatus: '许可证状态',
  audit: '审计记录', note: '备注', notePlaceholder: '备注（许可证号、文件号等）', copyLink: '复制链接', linkCopied: '链接已复制',
  decide_suspected_illegal: '疑似违法', decide_pseudo_change: '伪变化', decide_licensed: '合法', decide_needs_field_check: '需外业核查',
  assign: '分派', undo: '撤销', noteKey: '备注', help: '帮助', close: '关闭', enlarge: '放大',
  marked: '已标记为{status} · Z 撤销', undone: '已撤销', pending: '{n} 条决定待同步', conflict: '已由 {by} {at} 标记为{status}',
  notFound: '未找到该预警（不存在或不在您的辖区内）', needReason: '请选择伪变化原因（1–5）', needNote: '请填写备注', needNoteOther: '“其他”原因需填写至少 5 个字的备注',
  needNoteLicensed: '请在备注中填写许可证号或文件', notAllowed: '当前角色不能作出该决定', empty: '队列已清空', loading: '加载中…',
  noImagery: '无法读取该预警的影像', imeHint: '请切换到英文输入', assignTo: '分派到县', assignNote: '改派需填写备注', assigned: '已分派到 {county}',
  trueColour: '真彩色', falseColour: '标准假彩色', modeSwipe: '卷帘', modeSide: '并排', modeBlink: '闪烁', modeOpacity: '透明度',
  confidenceHelp_provisional: '待确认：仅一次观测发现，需进一步核实', confidenceHelp_confirmed: '已确认：后续影像再次观测到同一地块',
  clue: '线索，不是处罚依据', rulePassed: '成立', ruleFailed: '不成立', reason: '原因', by: '操作人', outlines: '轮廓',
  legendAlert: '预警图斑', legendPermit: '采矿/勘查许可证', legendInvalid: '失效许可证', legendClosed: '取缔关闭矿点', legendProtected: '保护区', legendCounty: '县界',
  traceSentence: '变化面积 {area}', traceOutside: '，其中 {outside} 位于许可证 {permit} 范围外', traceValid: '，许可证有效期至 {to}', traceInvalid: '，许可证 {permit} 在成像日期无效（{status}，有效期 {from} 至 {to}）',
  traceNoPermit: '，100 米内无有效许可证', traceInside: '，位于许可证 {permit} 内',
  helpTitle: '快捷键', keyNext: '下一条 / 上一条', keyFirst: '第一条 / 最后一条', keySearch: '搜索', keyDecide: '决定', keyReasons: '伪变化原因',
  keyCommit: '提交（备注必填的决定）', keyUndo: '撤销上一个决定', keyImagery: '影像：A 前时相 / D 后时相 / S 卷帘居中 / B 翻转 / M 切换对比方式 / T 真彩色↔假彩色 / O 轮廓',
  keyZoom: '重新定位 / 放大 / 缩小', keyHelp: '帮助；Enter 放大影像；Esc 关闭',
  mu: '亩', ha: '公顷',
  downloadPdf: '下载举证报告（PDF）', exportAs: '导出当前筛选',
};
type Dict = Record<keyof typeof zh, string>;
const en: Dict = {
  title: 'orewatch alert triage', login: 'Log in', username: 'Username', password: 'Password', loginFailed: 'Wrong username or password', tooMany: 'Too many attempts; try again later',
  logout: 'Log out', scopeAll: 'all jurisdictions', doneLeft: '{done} done today · {left} left', total: '{n} alerts', search: 'Search alert or permit id',
  queue: 'Alert queue', filterStatus: 'Status', filterCategory: 'Category', all: 'All', clear: 'Clear', sort: 'Sort',
  sortPriority: 'priority', sortArea: 'area', sortLast: 'last seen', sortScore: 'score',
  before: 'Before', after: 'After', area: 'Area', outside: 'Area outside permit', county: 'County', centroid: 'Centroid (lon, lat)',
  firstSeen: 'First seen', lastSeen: 'Last seen', observations: 'Observations', score: 'Change score', priority: 'Priority', confidence: 'Confidence',
  ruleTrace: 'Rule trace', thresholds: 'Thresholds used', permit: 'Permit', holder: 'Permit holder', validity: 'Validity', permitStatus: 'Permit status',
  audit: 'Audit trail', note: 'Note', notePlaceholder: 'Note (permit no., document no., …)', copyLink: 'Copy link', linkCopied: 'Link copied',
  decide_suspected_illegal: 'Suspected illegal', decide_pseudo_change: 'Pseudo-change', decide_licensed: 'Licensed', decide_needs_field_check: 'Needs field check',
  assign: 'Assign', undo: 'Undo', noteKey: 'Note', help: 'Help', close: 'Close', enlarge: 'Enlarge',
  marked: 'Marked {status} · Z to undo', undone: 'Undone', pending: '{n} decision(s) waiting to sync', conflict: 'Already marked {status} by {by} at {at}',
  notFound: 'Alert not found (it does not exist or is outside your jurisdiction)', needReason: 'Choose a pseudo-change reason (1–5)', needNote: 'A note is required', needNoteOther: 'Reason "other" needs a note of at least 5 characters',
  needNoteLicensed: 'Cite the permit or document in the note', notAllowed: 'Your role cannot make this decision', empty: 'The queue is empty', loading: 'Loading…',
  noImagery: 'The imagery of this alert cannot be read', imeHint: 'Switch the keyboard to English input', assignTo: 'Route to county', assignNote: 'Re-routing needs a note', assigned: 'Routed to {county}',
  trueColour: 'true colour', falseColour: 'false colour', modeSwipe: 'swipe', modeSide: 'side by side', modeBlink: 'blink', modeOpacity: 'opacity',
  confidenceHelp_provisional: 'Provisional: seen in one observation only', confidenceHelp_confirmed: 'Confirmed: a later image saw the same site again',
  clue: 'A clue, not a ruling', rulePassed: 'applies', ruleFailed: 'does not apply', reason: 'Reason', by: 'By', outlines: 'Outlines',
  legendAlert: 'alert patch', legendPermit: 'mining/exploration permit', legendInvalid: 'invalid permit', legendClosed: 'closed site', legendProtected: 'protected area', legendCounty: 'county boundary',
  traceSentence: 'change of {area}', traceOutside: ', {outside} outside permit {permit}', traceValid: ', permit valid to {to}', traceInvalid: ', permit {permit} not valid on the image date ({status}, valid {from} to {to})',
  traceNoPermit: ', no valid permit within 100 m', traceInside: ', inside permit {permit}',
  helpTitle: 'Keyboard shortcuts', keyNext: 'next / previous alert', keyFirst: 'first / last alert', keySearch: 'search', keyDecide: 'decide', keyReasons: 'pseudo-change reasons',
  keyCommit: 'commit (decisions that need a note)', keyUndo: 'undo the last decision', keyImagery: 'imagery: A before / D after / S centre swipe / B flip / M compare mode / T true↔false colour / O outlines',
  keyZoom: 'refit / zoom in / zoom out', keyHelp: 'help; Enter enlarges the chips; Esc closes',
  mu: 'mu', ha: 'ha',
  downloadPdf: 'Download evidence report (PDF)', exportAs: 'Export this selection',
};

const CATEGORY = {
  'zh-CN': { unlicensed: '无证开采（疑似）', out_of_bounds: '越界开采（疑似）', exploration_only: '以采代探（疑似）', expired_permit: '许可证失效后开采（疑似）', closed_site_reactivated: '关闭矿点复采（疑似）', protected_area: '保护区内开采（疑似）' },
  en: { unlicensed: 'suspected unlicensed mining', out_of_bounds: 'suspected mining beyond permit boundary', exploration_only: 'suspected extraction under an exploration permit', expired_permit: 'suspected mining on an invalid permit', closed_site_reactivated: 'suspected reactivation of a closed site', protected_area: 'suspected mining in a protected area' },
} as const;
const STATUS = {
  'zh-CN': { new: '新发现', triaged: '已分派', suspected_illegal: '疑似违法', pseudo_change: '伪变化', licensed: '合法（许可范围内）', needs_field_check: '需外业核查', field_verified_illegal: '核查属实（违法）', field_verified_legal: '核查合法', rectification: '整改中', closed: '已销号' },
  en: { new: 'new', triaged: 'triaged', suspected_illegal: 'suspected illegal', pseudo_change: 'pseudo-change', licensed: 'licensed', needs_field_check: 'needs field check', field_verified_illegal: 'verified illegal in the field', field_verified_legal: 'verified legal in the field', rectification: 'under rectification', closed: 'closed' },
} as const;
const REASON = {
  'zh-CN': { harvest: '农业耕作/收割', construction: '建设施工', cloud: '云及云影', seasonal_water: '季节性水体', other: '其他' },
  en: { harvest: 'harvest or tillage', construction: 'construction', cloud: 'cloud or shadow', seasonal_water: 'seasonal water', other: 'other' },
} as const;
const CONFIDENCE = { 'zh-CN': { provisional: '待确认（单次观测）', confirmed: '已确认（多次观测）' }, en: { provisional: 'provisional (one observation)', confirmed: 'confirmed (several observations)' } } as const;
const ROLE = { 'zh-CN': { analyst: '分析员', supervisor: '审核员', county: '县级自然资源部门', province: '省级自然资源部门', admin: '管理员' }, en: { analyst: 'analyst', supervisor: 'supervisor', county: 'county', province: 'province', admin: 'admin' } } as const;

export type Key = keyof typeof zh;
export const CATEGORIES = Object.keys(CATEGORY.en) as (keyof typeof CATEGORY.en)[];
export const STATUSES = Object.keys(STATUS.en) as (keyof typeof STATUS.en)[];
export const REASONS = Object.keys(REASON.en) as (keyof typeof REASON.en)[];

let lang: Lang = 'zh-CN';
export function setLang(l: Lang): void { lang = l; }
export function getLang(): Lang { return lang; }

export function t(key: Key, vars: Record<string, string | number> = {}): string {
  const text = (lang === 'en' ? en : zh)[key];
  return text.replace(/\{(\w+)\}/g, (_m, name: string) => String(vars[name] ?? ''));
}
const pick = (table: Record<Lang, Record<string, string>>, key: string): string => table[lang][key] ?? key;
export const categoryLabel = (c: string) => pick(CATEGORY, c);
export const statusLabel = (s: string) => pick(STATUS, s);
export const reasonLabel = (r: string) => pick(REASON, r);
export const confidenceLabel = (c: string) => pick(CONFIDENCE, c);
export const roleLabel = (r: string) => pick(ROLE, r);

export function fmt(n: number, digits: number): string {
  return new Intl.NumberFormat(lang, { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(n);
}

/** 1 ha = 15 亩 exactly; ha with 2 decimals, 亩 with 1, both from the unrounded value. */
export function areaText(ha: number): string {
  return lang === 'en' ? `${fmt(ha, 2)} ha (${fmt(ha * 15, 1)} mu)` : `${fmt(ha, 2)} 公顷（${fmt(ha * 15, 1)} 亩）`;
}

/** An audit time (UTC ISO) in Asia/Shanghai, `YYYY-MM-DD HH:mm`, "UTC+8" named in English. */
export function auditTime(iso: string): string {
  const d = new Date(iso);
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false }).formatToParts(d);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}${lang === 'en' ? ' UTC+8' : ''}`;
}
