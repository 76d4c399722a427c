/**
 * The triage screen (UX.md §1–§4): a priority queue, the alert's own imagery as the map (swipe,
 * side by side, blink, opacity) with outlines in the chips' pixel space, the detail panel with the
 * rule trace in words, and a decision bar driven by single keys. Decisions are optimistic: the row
 * leaves at once, the request carries a client decision_id (idempotency key), Z undoes within 5 s,
 * and decisions that cannot reach the server wait in an outbox.
 */
import { api, ApiError, setCsrf, uuid4 } from './api.js';
import {
  areaText, auditTime, CATEGORIES, categoryLabel, confidenceLabel, fmt, getLang, type Key, REASONS, reasonLabel, roleLabel,
  setLang, STATUSES, statusLabel, t, type Lang,
} from './i18n.js';

interface User { username: string; role: string; jurisdictions: string[]; language: Lang; preferences: Record<string, unknown>; decisions: string[] }
interface Item {
  alert_id: string; category: string; flags: string[]; status: string; confidence: string; score: number; priority: number; area_ha: number;
  area_outside_ha: number | null; permit_id: string | null; county_code: string | null; county_name: string | null; assignee: string | null;
  first_seen: string; last_seen: string; observation_count: number; summary: string; centroid: [number, number];
}
interface TraceStep { rule: string; result: boolean; detail: string }
interface Permit { permit_id: string; holder: string; type: string; mineral: string; valid_from: string; valid_to: string; status: string; name: string | null }
interface Detail extends Item {
  rule_trace: TraceStep[]; rules: Record<string, unknown>; permit: Permit | null; allowed_decisions: string[];
  observations: { observed_on: string; before_date: string; after_date: string; area_ha: number }[];
  scan: { before_date: string; after_date: string; detector: string; detector_version: string } | null;
  links: { images: Record<string, string> };
}
interface Overlay { kind: string; id: string; label: string; valid?: boolean; rings: [number, number][][] }
type MapData = { available: true; width: number; height: number; before_date: string; after_date: string; overlays: Overlay[] } | { available: false; reason: string };
interface AuditEntry { at: string; actor: string; action: string; details: Record<string, unknown> }
interface Division { code: string; name: string; level: string }
type Mode = 'swipe' | 'side-by-side' | 'blink' | 'opacity';
const MODES: Mode[] = ['swipe', 'side-by-side', 'blink', 'opacity'];
const UNDO_MS = 5000;

const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector(sel) as T;
const esc = (s: unknown) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c] as string));

const stored = <T>(key: string, fallback: T): T => { try { const v = localStorage.getItem(key); return v === null ? fallback : JSON.parse(v) as T; } catch { return fallback; } };
const store = (key: string, value: unknown) => { try { localStorage.setItem(key, JSON.stringify(value)); } catch { /* private mode */ } };

const state = {
  user: null as User | null,
  items: [] as Item[],
  total: 0,
  index: 0,
  filters: { status: 'new', category: '', q: '', sort: 'priority' },
  details: new Map<string, Promise<Detail>>(),
  maps: new Map<string, Promise<MapData>>(),
  divisions: [] as Division[],
  mode: stored<Mode>('ow-mode', 'swipe'),
  colour: stored<'true' | 'false'>('ow-colour', 'true'),
  outlines: stored<boolean>('ow-outlines', true),
  divider: 0.5,
  flipped: false,
  opacity: 0.5,
  blinkTimer: 0,
  view: { scale: 1, tx: 0, ty: 0 },
  mapSize: { width: 0, height: 0 },
  picker: null as null | 'pseudo' | 'assign',
  pendingNote: null as null | { status: string; reason?: string },
  last: null as null | { decisionId: string; item: Item; index: number; at: number; request: Promise<boolean> },
  outbox: stored<{ alertId: string; body: Record<string, unknown> }[]>('ow-outbox', []),
  toastTimer: 0,
};

const current = (): Item | undefined => state.items[state.index];

// ---------- language ----------

function applyLanguage(lang: Lang): void {
  setLang(lang);
  document.documentElement.lang = lang;
  document.title = t('title');
  document.querySelectorAll<HTMLElement>('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n as Key); });
  document.querySelectorAll<HTMLInputElement>('[data-i18n-placeholder]').forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder as Key); el.setAttribute('aria-label', el.placeholder); });
  document.querySelectorAll<HTMLElement>('[data-i18n-label]').forEach((el) => el.setAttribute('aria-label', t(el.dataset.i18nLabel as Key)));
  document.querySelectorAll<HTMLButtonElement>('[data-lang]').forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.lang === lang)));
  store('ow-lang', lang);
  document.cookie = `ow_lang=${lang}; path=/; SameSite=Strict; max-age=31536000`;
}

async function switchLanguage(lang: Lang): Promise<void> {
  applyLanguage(lang);
  if (!state.user) return;
  state.user.language = lang;
  fillFilterOptions();
  renderTop();
  renderQueue();
  renderBar();
  renderHelp();
  void showDetail();
  renderMapLabels();
  renderLegend();
  api('PUT', '/api/session/preferences', { language: lang }).catch(() => undefined);
}

// ---------- login ----------

async function start(): Promise<void> {
  applyLanguage(stored<Lang>('ow-lang', navigator.language.toLowerCase().startsWith('zh') || !navigator.language ? 'zh-CN' : 'en'));
  document.querySelectorAll<HTMLButtonElement>('[data-lang]').forEach((b) => b.addEventListener('click', () => void switchLanguage(b.dataset.lang as Lang)));
  $('#login-form').addEventListener('submit', (e) => { e.preventDefault(); void login(); });
  try {
    const session = await api<{ user: User; csrf_token: string }>('GET', '/api/session');
    await enter(session.user, session.csrf_token);
  } catch {
    showLogin();
  }
}

function showLogin(): void {
  $('#app').hidden = true;
  $('#login').hidden = false;
  $<HTMLInputElement>('#login-username').focus();
}

async function login(): Promise<void> {
  const username = $<HTMLInputElement>('#login-username').value;
  const password = $<HTMLInputElement>('#login-password').value;
  try {
    const session = await api<{ user: User; csrf_token: string }>('POST', '/api/session', { username, password });
    $<HTMLInputElement>('#login-password').value = '';
    $('#login-error').textContent = '';
    await enter(session.user, session.csrf_token);
  } catch (error) {
    $('#login-error').textContent = error instanceof ApiError && error.status === 429 ? t('tooMany') : t('loginFailed');
  }
}

async function enter(user: User, csrf: string): Promise<void> {
  state.user = user;
  setCsrf(csrf);
  // The profile's language wins over the browser's, so a new browser shows the user's choice.
  applyLanguage(user.language);
  const prefs = user.preferences;
  if (typeof prefs.compare_mode === 'string' && (MODES as string[]).includes(prefs.compare_mode)) state.mode = prefs.compare_mode as Mode;
  if (prefs.colour === 'true' || prefs.colour === 'false') state.colour = prefs.colour;
  const params = new URLSearchParams(location.search);
  state.filters.status = params.get('status') ?? 'new';
  state.filters.category = params.get('category') ?? '';
  state.filters.q = params.get('q') ?? '';
  state.filters.sort = params.get('sort') ?? 'priority';
  $('#login').hidden = true;
  $('#app').hidden = false;
  wireOnce();
  fillFilterOptions();
  renderTop();
  renderHelp();
  renderLegend();
  setMode(state.mode, false);
  state.divisions = (await api<{ items: Division[] }>('GET', '/api/divisions')).items;
  await loadQueue(params.get('alert'));
  void flushOutbox();
}

// ---------- queue ----------

function fillFilterOptions(): void {
  const status = $<HTMLSelectElement>('#filter-status');
  status.innerHTML = `<option value="">${esc(t('all'))}</option>` + STATUSES.map((s) => `<option value="${s}">${esc(statusLabel(s))}</option>`).join('');
  status.value = state.filters.status;
  const category = $<HTMLSelectElement>('#filter-category');
  category.innerHTML = `<option value="">${esc(t('all'))}</option>` + CATEGORIES.map((c) => `<option value="${c}">${esc(categoryLabel(c))}</option>`).join('');
  category.value = state.filters.category;
  const sort = $<HTMLSelectElement>('#sort');
  sort.innerHTML = ([['priority', 'sortPriority'], ['area', 'sortArea'], ['last_seen', 'sortLast'], ['score', 'sortScore']] as [string, Key][])
    .map(([v, k]) => `<option value="${v}">${esc(t(k))}</option>`).join('');
  sort.value = state.filters.sort;
  $<HTMLInputElement>('#search').value = state.filters.q;
}

/** Download links for the queue's current selection (the server applies the user's scope). */
function renderExports(): void {
  const p = new URLSearchParams({ lang: getLang() === 'en' ? 'en' : 'zh' });
  if (state.filters.status) p.set('status', state.filters.status);
  if (state.filters.category) p.set('category', state.filters.category);
  if (state.filters.q) p.set('q', state.filters.q);
  const names: [string, string][] = [['geojson', 'GeoJSON'], ['kml', 'KML'], ['shp', 'Shapefile'], ['csv', 'CSV']];
  $<HTMLElement>('#exports').innerHTML = names
    .map(([format, label]) => `<a href="${esc(`/api/export?format=${format}&${p.toString()}`)}" download data-export="${format}">${label}</a>`).join(' · ');
}

function queueUrl(): string {
  const p = new URLSearchParams({ limit: '200', sort: state.filters.sort });
  if (state.filters.status) p.set('status', state.filters.status);
  if (state.filters.category) p.set('category', state.filters.category);
  if (state.filters.q) p.set('q', state.filters.q);
  return `/api/alerts?${p}`;
}

async function loadQueue(selectId: string | null = null): Promise<void> {
  let page: { items: Item[]; total: number };
  try {
    page = await api('GET', queueUrl());
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return showLogin();
    page = { items: [], total: 0 };
  }
  state.items = page.items;
  state.total = page.total;
  state.index = 0;
  renderExports();
  if (selectId) {
    const at = state.items.findIndex((i) => i.alert_id === selectId);
    if (at >= 0) state.index = at;
    else if (/^OW-[0-9A-F]{12}$/.test(selectId)) {
      // Not in this view: ask for it; out of scope answers exactly like missing.
      try {
        const d = await api<Detail>('GET', `/api/alerts/${selectId}`);
        state.items.unshift(d);
        state.details.set(d.alert_id, Promise.resolve(d));
        state.index = 0;
      } catch {
        toast(t('notFound'));
      }
    }
  }
  renderQueue();
  await select(state.index);
}

function rowHtml(item: Item, i: number): string {
  return `<li role="option" id="row-${item.alert_id}" data-index="${i}" aria-selected="${i === state.index}" class="${item.status === 'new' ? 'is-new' : ''}">
    <span class="prio" title="${esc(t('priority'))}">${fmt(item.priority * 100, 0)}</span>
    <span class="cat"><span class="swatch c-${item.category}${item.category === 'out_of_bounds' || item.category === 'exploration_only' ? ' dash' : ''}"></span><span>${esc(categoryLabel(item.category))}</span></span>
    <span class="meta">${esc(item.alert_id)} · ${esc(areaText(item.area_ha))}</span>
    <span class="meta">${esc(item.county_name ?? '—')} ${esc(item.county_code ?? '')} · ${esc(item.last_seen)} · ${esc(confidenceLabel(item.confidence))} · ${esc(statusLabel(item.status))}</span>
  </li>`;
}

function renderQueue(): void {
  const queue = $('#queue');
  queue.innerHTML = state.items.map(rowHtml).join('');
  $('#total').textContent = t('total', { n: state.total });
  const item = current();
  if (item) queue.setAttribute('aria-activedescendant', `row-${item.alert_id}`); else queue.removeAttribute('aria-activedescendant');
  if (state.items.length === 0) queue.innerHTML = `<li class="meta">${esc(t('empty'))}</li>`;
  document.getElementById(`row-${item?.alert_id}`)?.scrollIntoView({ block: 'nearest' });
}

let noteFor: string | undefined;

async function select(index: number): Promise<void> {
  state.index = Math.max(0, Math.min(index, state.items.length - 1));
  // The note field stays in the page (focus never drops to the body when the panel re-renders);
  // its text belongs to one alert.
  if (current()?.alert_id !== noteFor) { $<HTMLTextAreaElement>('#note').value = ''; noteFor = current()?.alert_id; }
  closePickers();
  state.pendingNote = null;
  const item = current();
  document.querySelectorAll('#queue li[aria-selected="true"]').forEach((li) => li.setAttribute('aria-selected', 'false'));
  if (item) {
    const row = document.getElementById(`row-${item.alert_id}`);
    row?.setAttribute('aria-selected', 'true');
    row?.scrollIntoView({ block: 'nearest' });
    $('#queue').setAttribute('aria-activedescendant', `row-${item.alert_id}`);
  }
  updateUrl();
  renderBar();
  await Promise.all([showDetail(), showMap()]);
  // Prefetch the next three alerts' details and maps (UX.md budget: ≤ 1 s per alert is the tool's).
  for (const next of state.items.slice(state.index + 1, state.index + 4)) { void detailOf(next.alert_id); void mapOf(next.alert_id); }
}

function updateUrl(): void {
  const p = new URLSearchParams();
  const item = current();
  if (item) p.set('alert', item.alert_id);
  if (state.filters.status !== 'new') p.set('status', state.filters.status);
  if (state.filters.category) p.set('category', state.filters.category);
  if (state.filters.q) p.set('q', state.filters.q);
  if (state.filters.sort !== 'priority') p.set('sort', state.filters.sort);
  history.replaceState(null, '', `${location.pathname}?${p}`);
}

// ---------- detail ----------

function detailOf(id: string): Promise<Detail> {
  let d = state.details.get(id);
  if (!d) {
    d = api<Detail>('GET', `/api/alerts/${id}`);
    d.catch(() => state.details.delete(id));
    state.details.set(id, d);
  }
  return d;
}

function traceSentence(d: Detail): string {
  let s = t('traceSentence', { area: areaText(d.area_ha) });
  const p = d.permit;
  const date = d.scan?.after_date ?? d.last_seen;
  if (d.permit_id && d.area_outside_ha !== null && d.area_outside_ha > 0) s += t('traceOutside', { outside: areaText(d.area_outside_ha), permit: d.permit_id });
  else if (d.permit_id && d.category !== 'expired_permit') s += t('traceInside', { permit: d.permit_id });
  if (p) {
    const valid = p.status === 'active' && p.valid_from <= date && date <= p.valid_to;
    s += valid ? t('traceValid', { to: p.valid_to }) : t('traceInvalid', { permit: p.permit_id, status: p.status, from: p.valid_from, to: p.valid_to });
  } else if (d.category === 'unlicensed') s += t('traceNoPermit');
  return `${s}${getLang() === 'en' ? '.' : '。'}`;
}

async function showDetail(): Promise<void> {
  const item = current();
  const panel = $('#detail');
  if (!item) { panel.innerHTML = `<p class="skeleton">${esc(t('empty'))}</p>`; return; }
  panel.innerHTML = `<h2>${esc(item.alert_id)}</h2><p class="skeleton">${esc(t('loading'))}</p>`;
  const id = item.alert_id;
  let d: Detail;
  let audit: AuditEntry[] = [];
  try {
    [d, audit] = await Promise.all([detailOf(id), api<{ items: AuditEntry[] }>('GET', `/api/alerts/${id}/audit`).then((a) => a.items).catch(() => [])]);
  } catch {
    if (current()?.alert_id === id) panel.innerHTML = `<h2>${esc(id)}</h2><p class="error">${esc(t('notFound'))}</p>`;
    return;
  }
  if (current()?.alert_id !== id) return;
  const img = (name: string) => d.links.images[`${state.colour}-${name}`];
  const rules = d.rules as Record<string, number>;
  const p = d.permit;
  panel.innerHTML = `
    <h2>${esc(d.alert_id)} <span class="badge">${esc(statusLabel(d.status))}</span>
      <button type="button" id="copy-link" class="badge">${esc(t('copyLink'))}</button>
      <a class="badge" id="download-pdf" href="/api/alerts/${esc(d.alert_id)}/report.pdf?lang=${getLang() === 'en' ? 'en' : 'zh'}" download>${esc(t('downloadPdf'))}</a></h2>
    <p><span class="swatch c-${d.category}"></span> <strong>${esc(categoryLabel(d.category))}</strong>
      ${d.flags.filter((f) => f !== d.category).map((f) => `<span class="badge">${esc(categoryLabel(f))}</span>`).join(' ')}</p>
    <p class="clue">${esc(t('clue'))}</p>
    <div class="chips" id="chips">
      <figure><img src="${img('before')}" alt="${esc(t('before'))} ${esc(d.scan?.before_date)}"><figcaption>${esc(t('before'))} ${esc(d.scan?.before_date ?? '')} · ${esc(t(state.colour === 'true' ? 'trueColour' : 'falseColour'))}</figcaption></figure>
      <figure><img src="${img('after')}" alt="${esc(t('after'))} ${esc(d.scan?.after_date)}"><figcaption>${esc(t('after'))} ${esc(d.scan?.after_date ?? '')} · ${esc(t(state.colour === 'true' ? 'trueColour' : 'falseColour'))}</figcaption></figure>
    </div>
    <h3>${esc(t('ruleTrace'))}</h3>
    <p class="trace-sentence" id="trace-sentence">${esc(traceSentence(d))}</p>
    <details><summary>${esc(d.summary)}</summary><ol class="trace-steps">${d.rule_trace.map((s) => `<li class="${s.result ? 'yes' : 'no'}">${esc(categoryLabel(s.rule))}: ${esc(s.result ? t('rulePassed') : t('ruleFailed'))} — ${esc(s.detail)}</li>`).join('')}</ol>
      <p class="meta">${esc(t('thresholds'))}: MMU ${esc(rules.mmuHa)} ha · ${esc(rules.nearPermitM)} m · ${esc(rules.outsideToleranceHa)} ha · ${esc(rules.explorationExtractionHa)} ha · ${esc(d.scan?.detector ?? '')} ${esc(d.scan?.detector_version ?? '')}</p></details>
    <h3>${esc(t('area'))}</h3>
    <dl>
      <dt>${esc(t('area'))}</dt><dd id="area">${esc(areaText(d.area_ha))}</dd>
      ${d.area_outside_ha !== null ? `<dt>${esc(t('outside'))}</dt><dd>${esc(areaText(d.area_outside_ha))}</dd>` : ''}
      <dt>${esc(t('county'))}</dt><dd>${esc(d.county_name ?? '—')} ${esc(d.county_code ?? '')}${d.assignee ? ` · ${esc(d.assignee)}` : ''}</dd>
      <dt>${esc(t('centroid'))}</dt><dd>${d.centroid[0].toFixed(6)}, ${d.centroid[1].toFixed(6)}</dd>
      <dt>${esc(t('firstSeen'))}</dt><dd>${esc(d.first_seen)}</dd>
      <dt>${esc(t('lastSeen'))}</dt><dd>${esc(d.last_seen)}</dd>
      <dt>${esc(t('observations'))}</dt><dd>${d.observation_count}</dd>
      <dt>${esc(t('confidence'))}</dt><dd title="${esc(t(`confidenceHelp_${d.confidence}` as Key))}">${esc(confidenceLabel(d.confidence))}</dd>
      <dt>${esc(t('score'))}</dt><dd>${fmt(d.score, 3)}</dd>
      <dt>${esc(t('priority'))}</dt><dd>${fmt(d.priority * 100, 0)}</dd>
    </dl>
    ${p ? `<h3>${esc(t('permit'))}</h3><dl>
      <dt>${esc(t('permit'))}</dt><dd>${esc(p.permit_id)}${p.name ? ` ${esc(p.name)}` : ''} (${esc(p.type)}, ${esc(p.mineral)})</dd>
      <dt>${esc(t('holder'))}</dt><dd>${esc(p.holder)}</dd>
      <dt>${esc(t('validity'))}</dt><dd>${esc(p.valid_from)} – ${esc(p.valid_to)}</dd>
      <dt>${esc(t('permitStatus'))}</dt><dd>${esc(p.status)}</dd></dl>` : ''}
    <details id="audit" open><summary>${esc(t('audit'))} (${audit.length})</summary><ol class="audit" id="audit-list">${audit.map((a) => `<li data-action="${esc(a.action)}">${esc(auditTime(a.at))} · ${esc(a.actor)} · ${esc(a.action)}${a.details.to ? ` → ${esc(statusLabel(String(a.details.to)))}` : ''}${a.details.reason ? ` (${esc(reasonLabel(String(a.details.reason)))})` : ''}${a.details.note ? ` “${esc(a.details.note)}”` : ''}</li>`).join('')}</ol></details>`;
  $('#copy-link').addEventListener('click', () => { void navigator.clipboard?.writeText(location.href).then(() => toast(t('linkCopied'))); });
  $('#chips').addEventListener('click', enlargeChips);
  renderBar(d);
}

function enlargeChips(): void {
  $('#enlarged-chips').innerHTML = $('#chips').innerHTML;
  $('#enlarged').hidden = false;
  $('#enlarged-close').focus();
}

// ---------- map ----------

function mapOf(id: string): Promise<MapData> {
  let m = state.maps.get(id);
  if (!m) {
    m = api<MapData>('GET', `/api/alerts/${id}/map`);
    m.catch(() => state.maps.delete(id));
    state.maps.set(id, m);
  }
  return m;
}

const ringsPath = (rings: [number, number][][]) => rings.map((r) => `M${r.map(([x, y]) => `${x},${y}`).join('L')}Z`).join('');

function overlaySvg(m: Extract<MapData, { available: true }>, item: Item): string {
  const order = ['jurisdictions', 'protected_areas', 'closed_sites', 'permits', 'alert'];
  const paths = [...m.overlays].sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind)).map((o) => {
    const d = ringsPath(o.rings);
    const title = `<title>${esc(o.label)}</title>`;
    if (o.kind === 'alert') {
      return `<path d="${d}" fill="none" stroke="#fff" stroke-width="6" vector-effect="non-scaling-stroke"/>` +
        `<path class="alert-outline" data-alert="${esc(o.id)}" d="${d}" fill="none" stroke="var(--c-${item.category})" stroke-width="3" vector-effect="non-scaling-stroke" fill-rule="evenodd">${title}</path>`;
    }
    if (o.kind === 'permits') return `<path d="${d}" fill="none" stroke="${o.valid ? '#facc15' : '#ef4444'}" stroke-width="2" stroke-dasharray="8 5" vector-effect="non-scaling-stroke">${title}</path>`;
    if (o.kind === 'closed_sites') return `<path d="${d}" fill="url(#hatch)" stroke="#c084fc" stroke-width="2" vector-effect="non-scaling-stroke">${title}</path>`;
    if (o.kind === 'protected_areas') return `<path d="${d}" fill="none" stroke="#22c55e" stroke-width="2" vector-effect="non-scaling-stroke">${title}</path>`;
    return `<path d="${d}" fill="none" stroke="#d1d5db" stroke-width="1.5" stroke-dasharray="2 3" vector-effect="non-scaling-stroke">${title}</path>`;
  });
  return `<defs><pattern id="hatch" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="8" stroke="#c084fc" stroke-width="2"/></pattern></defs>${paths.join('')}`;
}

async function showMap(): Promise<void> {
  const item = current();
  const map = $('#map');
  const message = map.querySelector('.map-message') as HTMLElement;
  const imgs = map.querySelectorAll<HTMLImageElement>('img.scene');
  const svgs = map.querySelectorAll<SVGSVGElement>('svg.overlay');
  if (!item) { imgs.forEach((i) => { i.removeAttribute('src'); }); svgs.forEach((s) => { s.innerHTML = ''; }); return; }
  let m: MapData;
  try {
    m = await mapOf(item.alert_id);
  } catch {
    m = { available: false, reason: '' };
  }
  if (current()?.alert_id !== item.alert_id) return;
  if (!m.available) {
    message.hidden = false;
    message.textContent = t('noImagery');
    imgs.forEach((i) => i.removeAttribute('src'));
    svgs.forEach((s) => { s.innerHTML = ''; });
    return;
  }
  message.hidden = true;
  state.mapSize = { width: m.width, height: m.height };
  svgs.forEach((s) => {
    s.setAttribute('viewBox', `0 0 ${m.width} ${m.height}`);
    s.setAttribute('width', String(m.width));
    s.setAttribute('height', String(m.height));
    s.innerHTML = overlaySvg(m, item);
    s.style.display = state.outlines ? '' : 'none';
  });
  setImages();
  map.dataset.before = m.before_date;
  map.dataset.after = m.after_date;
  renderMapLabels();
  fitToAlert(m);
}

function setImages(): void {
  const item = current();
  if (!item) return;
  const [first, second] = state.flipped ? ['after', 'before'] : ['before', 'after'];
  const panes = ['.pane-before', '.pane-after'];
  [first, second].forEach((name, i) => {
    const img = document.querySelector(`${panes[i]} img.scene`) as HTMLImageElement;
    const src = `/api/alerts/${item.alert_id}/images/map-${state.colour}-${name}.png`;
    if (img.getAttribute('src') !== src) img.src = src;
    img.width = state.mapSize.width;
    img.height = state.mapSize.height;
  });
}

function renderMapLabels(): void {
  const map = $('#map');
  const before = `${t('before')} ${map.dataset.before ?? ''}`, after = `${t('after')} ${map.dataset.after ?? ''}`;
  const colour = t(state.colour === 'true' ? 'trueColour' : 'falseColour');
  (map.querySelector('.map-label.left') as HTMLElement).textContent = `${state.flipped ? after : before} · ${colour}`;
  (map.querySelector('.map-label.right') as HTMLElement).textContent = `${state.flipped ? before : after} · ${colour}`;
  const modeKey = ({ swipe: 'modeSwipe', 'side-by-side': 'modeSide', blink: 'modeBlink', opacity: 'modeOpacity' } as const)[state.mode];
  (map.querySelector('.map-mode') as HTMLElement).textContent = `M: ${t(modeKey)}`;
}

function fitToAlert(m?: Extract<MapData, { available: true }>): void {
  const pane = document.querySelector('.pane-after') as HTMLElement;
  const alertPath = document.querySelector('.pane-after path.alert-outline') as SVGPathElement | null;
  let [x0, y0, x1, y1] = [0, 0, state.mapSize.width, state.mapSize.height];
  const rings = m?.overlays.find((o) => o.kind === 'alert')?.rings;
  if (rings) {
    const xs = rings.flat().map((p) => p[0]), ys = rings.flat().map((p) => p[1]);
    [x0, y0, x1, y1] = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
  } else if (alertPath) {
    const b = alertPath.getBBox();
    [x0, y0, x1, y1] = [b.x, b.y, b.x + b.width, b.y + b.height];
  }
  const w = pane.clientWidth || 600, h = pane.clientHeight || 400;
  // 15 % padding around the alert; the chips are already enlarged from the scene grid, so never
  // beyond 1.5 screen pixels per chip pixel (the surroundings stay in view).
  const scale = Math.min(1.5, Math.min(w / ((x1 - x0) * 1.3 || 1), h / ((y1 - y0) * 1.3 || 1)));
  state.view = { scale, tx: w / 2 - ((x0 + x1) / 2) * scale, ty: h / 2 - ((y0 + y1) / 2) * scale };
  applyView();
}

function applyView(): void {
  const { scale, tx, ty } = state.view;
  document.querySelectorAll<HTMLElement>('#map .stage').forEach((s) => { s.style.transform = `translate(${tx}px, ${ty}px) scale(${scale})`; });
  const after = document.querySelector('.pane-after') as HTMLElement;
  const divider = document.querySelector('#map .divider') as HTMLElement;
  after.style.clipPath = state.mode === 'swipe' ? `inset(0 0 0 ${state.divider * 100}%)` : '';
  after.style.visibility = state.mode === 'blink' && state.flipped ? 'hidden' : '';
  (document.querySelector('#map') as HTMLElement).style.setProperty('--after-opacity', String(state.opacity));
  divider.style.left = `${state.divider * 100}%`;
}

function setMode(mode: Mode, persist = true): void {
  state.mode = mode;
  $('#map').dataset.mode = mode;
  if (mode !== 'blink') stopBlink();
  store('ow-mode', mode);
  if (persist) api('PUT', '/api/session/preferences', { compare_mode: mode }).catch(() => undefined);
  renderMapLabels();
  requestAnimationFrame(() => fitToAlert());
  applyView();
}

function stopBlink(): void {
  if (state.blinkTimer) clearInterval(state.blinkTimer);
  state.blinkTimer = 0;
}

function flip(): void {
  if (state.mode === 'blink') state.flipped = !state.flipped;
  else { state.flipped = !state.flipped; setImages(); }
  renderMapLabels();
  applyView();
}

function zoom(factor: number, cx?: number, cy?: number): void {
  const pane = document.querySelector('.pane-after') as HTMLElement;
  const x = cx ?? pane.clientWidth / 2, y = cy ?? pane.clientHeight / 2;
  const v = state.view;
  const scale = Math.max(0.2, Math.min(16, v.scale * factor));
  state.view = { scale, tx: x - ((x - v.tx) * scale) / v.scale, ty: y - ((y - v.ty) * scale) / v.scale };
  applyView();
}

function renderLegend(): void {
  const items: [string, string][] = [
    ['swatch c-unlicensed', t('legendAlert')], ['swatch dash l-permit', t('legendPermit')], ['swatch dash l-invalid', t('legendInvalid')],
    ['swatch l-closed', t('legendClosed')], ['swatch l-protected', t('legendProtected')], ['swatch dash l-county', t('legendCounty')],
  ];
  $('#legend').innerHTML = items.map(([cls, label]) => `<li><span class="${cls}"></span> ${esc(label)}</li>`).join('');
}

// ---------- decisions ----------

function renderBar(detail?: Detail): void {
  const allowed = detail?.allowed_decisions ?? state.user?.decisions ?? [];
  document.querySelectorAll<HTMLButtonElement>('#decision-bar button[data-action]').forEach((b) => {
    const action = b.dataset.action as string;
    if (['suspected_illegal', 'pseudo_change', 'licensed', 'needs_field_check'].includes(action)) {
      const ok = !!current() && allowed.includes(action);
      b.disabled = !ok;
      b.title = ok ? '' : t('notAllowed');
    }
    if (action === 'assign') b.disabled = !current() || state.user?.role === 'county';
  });
  const reasons = $('#reasons');
  reasons.innerHTML = REASONS.map((r, i) => `<button type="button" data-reason="${r}" aria-pressed="${state.pendingNote?.reason === r}"><kbd>${i + 1}</kbd> ${esc(reasonLabel(r))}</button>`).join('');
}

function barError(message: string): void {
  $('#bar-error').textContent = message;
}

function closePickers(): void {
  state.picker = null;
  $('#reasons').hidden = true;
  $('#assign-box').hidden = true;
  barError('');
}

function noteValue(): string {
  return ((document.getElementById('note') as HTMLTextAreaElement | null)?.value ?? '').trim();
}

/** Checks what the decision needs on the client; sends nothing when something is missing. */
function tryDecide(status: string, reason?: string): void {
  const item = current();
  if (!item) return;
  const button = document.querySelector<HTMLButtonElement>(`#decision-bar button[data-action="${status}"]`);
  if (button?.disabled) { barError(t('notAllowed')); return; }
  const note = noteValue();
  if (status === 'pseudo_change' && !reason) { barError(t('needReason')); state.picker = 'pseudo'; $('#reasons').hidden = false; return; }
  if (status === 'pseudo_change' && reason === 'other' && [...note].length < 5) {
    state.pendingNote = { status, reason };
    renderBar();
    barError(t('needNoteOther'));
    (document.getElementById('note') as HTMLTextAreaElement | null)?.focus();
    return;
  }
  if (status === 'licensed' && !note) {
    state.pendingNote = { status };
    barError(t('needNoteLicensed'));
    (document.getElementById('note') as HTMLTextAreaElement | null)?.focus();
    return;
  }
  void decide(item, status, reason, note || undefined);
}

async function decide(item: Item, status: string, reason: string | undefined, note: string | undefined): Promise<void> {
  closePickers();
  $<HTMLTextAreaElement>('#note').value = '';
  state.pendingNote = null;
  const index = state.index;
  const decisionId = uuid4();
  const body: Record<string, unknown> = { decision_id: decisionId, status, expected_status: item.status };
  if (reason) body.reason = reason;
  if (note) body.note = note;
  // Optimistic: the row leaves now, the one below is selected.
  state.items.splice(index, 1);
  state.total = Math.max(0, state.total - 1);
  state.details.delete(item.alert_id);
  renderQueue();
  void select(Math.min(index, state.items.length - 1));
  $('#queue').focus();
  toast(t('marked', { status: statusLabel(status) }), UNDO_MS);
  const request = send(item, body, index);
  state.last = { decisionId, item, index, at: Date.now(), request };
  if (await request) void refreshCounts();
}

/** Sends one decision; true when stored. Network failures go to the outbox. */
async function send(item: Item, body: Record<string, unknown>, index: number): Promise<boolean> {
  try {
    await api('POST', `/api/alerts/${item.alert_id}/decisions`, body);
    return true;
  } catch (error) {
    if (!(error instanceof ApiError) || error.status >= 500) {
      state.outbox.push({ alertId: item.alert_id, body });
      store('ow-outbox', state.outbox);
      renderPending();
      scheduleFlush();
      return false;
    }
    if (error.status === 409) {
      const c = error.body.current as { status?: string; by?: string; at?: string } | undefined;
      toast(t('conflict', { status: statusLabel(c?.status ?? ''), by: c?.by ?? '?', at: c?.at ? auditTime(c.at) : '' }));
    } else if (error.status === 422) {
      // Put the row back where it was and say what is missing.
      state.items.splice(Math.min(index, state.items.length), 0, item);
      state.total++;
      renderQueue();
      await select(index);
      barError(error.message);
      if (body.status === 'pseudo_change') { state.picker = 'pseudo'; $('#reasons').hidden = false; }
    } else {
      toast(t('notFound'));
    }
    return false;
  }
}

async function undo(): Promise<void> {
  const last = state.last;
  if (!last || Date.now() - last.at > UNDO_MS) return;
  state.last = null;
  const stored = await last.request;
  if (stored) {
    try {
      await api('POST', `/api/alerts/${last.item.alert_id}/decisions`, { decision_id: uuid4(), undo_of: last.decisionId });
    } catch (error) {
      toast(error instanceof ApiError && error.status === 409 ? error.message : t('notFound'));
      return;
    }
  } else {
    // Never reached the server: drop it from the outbox instead.
    state.outbox = state.outbox.filter((o) => o.body.decision_id !== last.decisionId);
    store('ow-outbox', state.outbox);
    renderPending();
  }
  state.items.splice(Math.min(last.index, state.items.length), 0, last.item);
  state.total++;
  state.details.delete(last.item.alert_id);
  renderQueue();
  await select(last.index);
  $('#queue').focus();
  toast(t('undone'));
  void refreshCounts();
}

let flushDelay = 1000;
let flushTimer = 0;
function scheduleFlush(): void {
  if (flushTimer) return;
  flushTimer = window.setTimeout(() => { flushTimer = 0; void flushOutbox(); }, flushDelay);
  flushDelay = Math.min(30_000, flushDelay * 2);
}

async function flushOutbox(): Promise<void> {
  while (state.outbox.length > 0) {
    const next = state.outbox[0];
    try {
      await api('POST', `/api/alerts/${next.alertId}/decisions`, next.body);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status >= 500) { scheduleFlush(); return; }
      // Refused for good (conflict, gone): the server's answer stands; the same decision_id never stores twice.
    }
    state.outbox.shift();
    store('ow-outbox', state.outbox);
    renderPending();
  }
  flushDelay = 1000;
  void refreshCounts();
}

function renderPending(): void {
  const el = $('#pending');
  el.hidden = state.outbox.length === 0;
  el.textContent = t('pending', { n: state.outbox.length });
}

async function openAssign(): Promise<void> {
  if (!current() || state.user?.role === 'county') return;
  const select = $<HTMLSelectElement>('#assign-county');
  select.innerHTML = state.divisions.filter((d) => d.level === 'county').map((d) => `<option value="${d.code}">${esc(d.name)} ${d.code}</option>`).join('');
  select.value = current()?.county_code ?? '';
  select.setAttribute('aria-label', t('assignTo'));
  state.picker = 'assign';
  $('#assign-box').hidden = false;
  select.focus();
}

async function commitAssign(): Promise<void> {
  const item = current();
  const code = $<HTMLSelectElement>('#assign-county').value;
  if (!item || !code) return;
  try {
    const r = await api<{ county_code: string; county_name: string }>('POST', `/api/alerts/${item.alert_id}/assignment`, { county_code: code, ...(noteValue() ? { note: noteValue() } : {}) });
    item.county_code = r.county_code;
    item.county_name = r.county_name;
    state.details.delete(item.alert_id);
    closePickers();
    renderQueue();
    void showDetail();
    toast(t('assigned', { county: `${r.county_name} ${r.county_code}` }));
    $('#queue').focus();
  } catch (error) {
    barError(error instanceof ApiError && error.code === 'ASSIGN.NOTE_REQUIRED' ? t('assignNote') : error instanceof Error ? error.message : String(error));
  }
}

// ---------- chrome ----------

function toast(message: string, ms = 3000): void {
  const el = $('#toast');
  el.hidden = false;
  const until = Date.now() + ms;
  clearInterval(state.toastTimer);
  const tick = () => {
    const left = Math.ceil((until - Date.now()) / 1000);
    if (left <= 0) { el.hidden = true; clearInterval(state.toastTimer); return; }
    el.textContent = ms >= UNDO_MS ? `${message} (${left})` : message;
  };
  tick();
  state.toastTimer = window.setInterval(tick, 250);
}

async function refreshCounts(): Promise<void> {
  try {
    const s = await api<{ done_today: number; left: number }>('GET', '/api/summary');
    $('#counts').textContent = t('doneLeft', { done: s.done_today, left: s.left });
  } catch { /* the next decision refreshes */ }
}

function renderTop(): void {
  const u = state.user;
  if (!u) return;
  const codes = u.jurisdictions.map((c) => state.divisions.find((d) => d.code === c)?.name ?? c).join(', ');
  $('#scope').textContent = `${u.username} · ${roleLabel(u.role)} · ${codes || t('scopeAll')}`;
  renderPending();
  void refreshCounts();
}

function renderHelp(): void {
  const rows: [string, Key][] = [['J / ↓ · K / ↑', 'keyNext'], ['Home / End', 'keyFirst'], ['/', 'keySearch'],
    ['C · P · L · F', 'keyDecide'], ['P, 1–5', 'keyReasons'], ['Ctrl+Enter', 'keyCommit'], ['Z · Ctrl+Z', 'keyUndo'],
    ['A D S B M T O', 'keyImagery'], ['. + -', 'keyZoom'], ['? · Enter · Esc', 'keyHelp']];
  $('#help-list').innerHTML = rows.map(([k, d]) => `<dt><kbd>${esc(k)}</kbd></dt><dd>${esc(t(d))}</dd>`).join('');
}

function closeDialogs(): boolean {
  const open = [...document.querySelectorAll<HTMLElement>('.dialog')].filter((d) => !d.hidden);
  open.forEach((d) => { d.hidden = true; });
  if (open.length) $('#queue').focus();
  return open.length > 0;
}

let wired = false;
function wireOnce(): void {
  if (wired) return;
  wired = true;
  $('#queue').addEventListener('click', (e) => {
    const li = (e.target as HTMLElement).closest('li[data-index]') as HTMLElement | null;
    if (li) void select(Number(li.dataset.index));
    $('#queue').focus();
  });
  const refilter = () => {
    state.filters.status = $<HTMLSelectElement>('#filter-status').value;
    state.filters.category = $<HTMLSelectElement>('#filter-category').value;
    state.filters.sort = $<HTMLSelectElement>('#sort').value;
    void loadQueue();
  };
  ['#filter-status', '#filter-category', '#sort'].forEach((s) => $(s).addEventListener('change', refilter));
  $('#search').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.isComposing) {
      const q = $<HTMLInputElement>('#search').value.trim();
      state.filters.q = /^[A-Za-z0-9-]{1,40}$/.test(q) ? q : '';
      void loadQueue();
      $('#queue').focus();
    }
  });
  $('#clear-filters').addEventListener('click', () => { state.filters = { status: 'new', category: '', q: '', sort: 'priority' }; fillFilterOptions(); void loadQueue(); });
  $('#logout').addEventListener('click', async () => { await api('DELETE', '/api/session').catch(() => undefined); location.href = '/'; });
  $('#help-button').addEventListener('click', () => { $('#help').hidden = false; $('#help-close').focus(); });
  $('#help-close').addEventListener('click', closeDialogs);
  $('#enlarged-close').addEventListener('click', closeDialogs);
  $('#decision-bar').addEventListener('click', (e) => {
    const reasonButton = (e.target as HTMLElement).closest('button[data-reason]') as HTMLButtonElement | null;
    if (reasonButton) { tryDecide('pseudo_change', reasonButton.dataset.reason); return; }
    const b = (e.target as HTMLElement).closest('button[data-action]') as HTMLButtonElement | null;
    if (!b) return;
    runAction(b.dataset.action as string);
    // Keys keep working after a click (HASTE#126): focus goes back to the queue unless a field wants it.
    if (!['note', 'assign'].includes(b.dataset.action as string) && state.picker !== 'pseudo') $('#queue').focus();
  });
  $('#assign-county').addEventListener('keydown', (e) => {
    if (e.key === 'Enter') { e.preventDefault(); void commitAssign(); }
  });
  // Pan by dragging; the swipe divider moves when the drag starts on it; wheel zooms.
  const map = $('#map');
  let drag: { x: number; y: number; divider: boolean } | null = null;
  map.addEventListener('pointerdown', (e) => {
    const rect = map.getBoundingClientRect();
    const onDivider = state.mode === 'swipe' && Math.abs(e.clientX - rect.left - state.divider * rect.width) < 10;
    drag = { x: e.clientX, y: e.clientY, divider: onDivider };
    map.setPointerCapture(e.pointerId);
  });
  map.addEventListener('pointermove', (e) => {
    if (!drag) return;
    const rect = map.getBoundingClientRect();
    if (drag.divider) state.divider = Math.max(0, Math.min(1, (e.clientX - rect.left) / rect.width));
    else { state.view.tx += e.clientX - drag.x; state.view.ty += e.clientY - drag.y; }
    drag.x = e.clientX; drag.y = e.clientY;
    applyView();
  });
  map.addEventListener('pointerup', () => { drag = null; $('#queue').focus(); });
  map.addEventListener('wheel', (e) => {
    e.preventDefault();
    const rect = (document.querySelector('.pane-after') as HTMLElement).getBoundingClientRect();
    zoom(e.deltaY < 0 ? 1.25 : 0.8, e.clientX - rect.left, e.clientY - rect.top);
  }, { passive: false });
  window.addEventListener('resize', () => fitToAlert());
  window.addEventListener('beforeunload', (e) => { if (state.outbox.length) e.preventDefault(); });
  window.addEventListener('online', () => void flushOutbox());
  document.addEventListener('keydown', onKey);
}

function runAction(action: string): void {
  switch (action) {
    case 'suspected_illegal': case 'needs_field_check': tryDecide(action); break;
    case 'licensed': tryDecide('licensed'); break;
    case 'pseudo_change': state.picker = 'pseudo'; state.pendingNote = null; renderBar(); $('#reasons').hidden = false; barError(''); break;
    case 'assign': void openAssign(); break;
    case 'note': (document.getElementById('note') as HTMLTextAreaElement | null)?.focus(); break;
    case 'undo': void undo(); break;
  }
}

/** Commits what waits on a note (licensed, pseudo-change "other"), or a pseudo-change with its chosen reason. */
function commitPending(): void {
  if (state.pendingNote) tryDecide(state.pendingNote.status, state.pendingNote.reason);
  else if (state.picker === 'pseudo') barError(t('needReason'));
}

/**
 * Keys by physical position (`event.code`), so they work under a Chinese IME and any layout;
 * composing keystrokes are skipped; text fields keep their keys (UX.md §2).
 */
function onKey(e: KeyboardEvent): void {
  if (e.isComposing) return;
  if (!state.user || $('#app').hidden) return;
  const target = e.target instanceof Element ? e.target : document.body;
  const dialogOpen = [...document.querySelectorAll<HTMLElement>('.dialog')].some((d) => !d.hidden);
  if (dialogOpen) { if (e.code === 'Escape') { e.preventDefault(); closeDialogs(); } return; }
  if (target.closest('input, textarea, select, [contenteditable="true"]')) {
    if (e.code === 'Enter' && (e.ctrlKey || e.metaKey) && target.id === 'note') { e.preventDefault(); commitPending(); $('#queue').focus(); }
    else if (e.code === 'Escape') { e.preventDefault(); (target as HTMLInputElement).blur(); closePickers(); $('#queue').focus(); }
    return;
  }
  if (e.altKey) return;
  if (e.ctrlKey || e.metaKey) {
    if (e.code === 'KeyZ') { e.preventDefault(); void undo(); }
    else if (e.code === 'Enter') { e.preventDefault(); commitPending(); }
    return;
  }
  if (e.key === 'Process' && !e.code) { toast(t('imeHint')); return; }
  const code = e.code;
  if (state.picker === 'pseudo' && /^Digit[1-5]$|^Numpad[1-5]$/.test(code)) {
    e.preventDefault();
    tryDecide('pseudo_change', REASONS[Number(code.slice(-1)) - 1]);
    return;
  }
  const handled = (() => {
    switch (code) {
      case 'KeyJ': case 'ArrowDown': if (state.index < state.items.length - 1) void select(state.index + 1); return true;
      case 'KeyK': case 'ArrowUp': if (state.index > 0) void select(state.index - 1); return true;
      case 'Home': void select(0); return true;
      case 'End': void select(state.items.length - 1); return true;
      case 'Slash': if (e.shiftKey) { $('#help').hidden = false; $('#help-close').focus(); } else $('#search').focus(); return true;
      case 'KeyC': tryDecide('suspected_illegal'); return true;
      case 'KeyP': runAction('pseudo_change'); return true;
      case 'KeyL': tryDecide('licensed'); return true;
      case 'KeyF': tryDecide('needs_field_check'); return true;
      case 'KeyR': void openAssign(); return true;
      case 'KeyN': runAction('note'); return true;
      case 'KeyZ': void undo(); return true;
      case 'KeyA':
        if (state.mode === 'swipe') state.divider = 1;
        else if (state.mode === 'opacity') state.opacity = Math.max(0, state.opacity - 0.25);
        else if (state.mode === 'blink') state.flipped = true;
        applyView(); return true;
      case 'KeyD':
        if (state.mode === 'swipe') state.divider = 0;
        else if (state.mode === 'opacity') state.opacity = Math.min(1, state.opacity + 0.25);
        else if (state.mode === 'blink') state.flipped = false;
        applyView(); return true;
      case 'KeyS': state.divider = 0.5; if (state.mode !== 'swipe') setMode('swipe'); else applyView(); return true;
      case 'KeyB':
        if (e.shiftKey) {
          if (state.blinkTimer) stopBlink();
          else if (!matchMedia('(prefers-reduced-motion: reduce)').matches) { if (state.mode !== 'blink') setMode('blink'); state.blinkTimer = window.setInterval(flip, 500); }
        } else flip();
        return true;
      case 'KeyM': setMode(MODES[(MODES.indexOf(state.mode) + 1) % MODES.length]); return true;
      case 'KeyT':
        state.colour = state.colour === 'true' ? 'false' : 'true';
        store('ow-colour', state.colour);
        api('PUT', '/api/session/preferences', { colour: state.colour }).catch(() => undefined);
        setImages(); renderMapLabels(); void showDetail(); return true;
      case 'KeyO':
        state.outlines = !state.outlines;
        store('ow-outlines', state.outlines);
        document.querySelectorAll<SVGElement>('#map svg.overlay').forEach((s) => { s.style.display = state.outlines ? '' : 'none'; });
        return true;
      case 'Period': fitToAlert(); return true;
      case 'Equal': case 'NumpadAdd': zoom(1.25); return true;
      case 'Minus': case 'NumpadSubtract': zoom(0.8); return true;
      case 'Enter': enlargeChips(); return true;
      case 'Escape': closePickers(); state.pendingNote = null; return true;
      default: return false;
    }
  })();
  if (handled) e.preventDefault();
}

void start();
