/**
 * The triage web app in a real browser (headless Debian Chromium through playwright-core): log in,
 * triage three alerts with the keyboard (C, F, P then 3), see each leave the queue and its decision
 * appear in the audit trail, undo with Z, switch to English (kept after a reload), and save a
 * screenshot. Every request must stay on the app's own origin (no CDN, fonts or tiles).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';
import { PASSWORD, seedTriageStore } from './helpers/triage.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOT = resolve(ROOT, 'test', '.tmp', 'triage-app.png');

describe.skipIf(!existsSync(CHROMIUM))('triage web app in headless Chromium', () => {
  let dir: string;
  let server: ChildProcessWithoutNullStreams;
  let origin: string;
  let browser: Browser;
  let page: Page;
  const offOrigin: string[] = [];
  const decisionPosts: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'orewatch-browser-'));
    await seedTriageStore(dir, { dataDir: join(dir, 'store') });
    server = spawn(process.execPath, [resolve(ROOT, 'bin', 'orewatch.mjs'), 'serve', '--port', '0', '--data-dir', join(dir, 'store')], { cwd: ROOT, env: { ...process.env, DATABASE_URL: '' } });
    origin = await new Promise<string>((resolvePromise, reject) => {
      let out = '', err = '';
      const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}${err}`)), 60_000);
      server.stderr.on('data', (d) => { err += d; });
      server.stdout.on('data', (d) => {
        out += d;
        const m = /serving (http:\/\/[^\s]+)/.exec(out);
        if (m) { clearTimeout(timer); resolvePromise(m[1]); }
      });
      server.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' });
    page = await context.newPage();
    page.on('request', (r) => {
      if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) offOrigin.push(r.url());
      if (r.method() === 'POST' && /\/decisions$/.test(r.url())) decisionPosts.push(r.postData() ?? '');
    });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const rowIds = () => page.$$eval('#queue li[data-index]', (lis) => lis.map((li) => li.id.replace(/^row-/, '')));
  const selectedId = () => page.$eval('#queue li[aria-selected="true"]', (li) => li.id.replace(/^row-/, ''));

  it('logs in, triages three alerts by keyboard, audits them, switches language, and saves a screenshot', async () => {
    await page.goto(origin);
    await page.fill('#login-username', 'analyst');
    await page.fill('#login-password', PASSWORD);
    await page.press('#login-password', 'Enter');
    await page.waitForSelector('#queue li[aria-selected="true"]');
    expect(await page.getAttribute('html', 'lang')).toBe('zh-CN');
    // Row 1 selected, queue by priority, its outline on the map, the rule trace naming its area.
    const first = await rowIds();
    expect(first.length).toBeGreaterThanOrEqual(6);
    expect(await selectedId()).toBe(first[0]);
    await page.waitForSelector('#trace-sentence');
    expect(await page.textContent('#trace-sentence')).toMatch(/^变化面积 \d+\.\d{2} 公顷（\d+\.\d 亩）/);
    await page.waitForSelector('.pane-after path.alert-outline');
    await page.waitForFunction(() => (document.querySelector('.pane-after img.scene') as HTMLImageElement | null)?.naturalWidth! > 0);

    // J / K move the selection and the URL's alert parameter.
    await page.keyboard.press('j');
    await page.waitForFunction((id) => new URL(location.href).searchParams.get('alert') === id, first[1]);
    await page.keyboard.press('k');
    await page.waitForFunction((id) => new URL(location.href).searchParams.get('alert') === id, first[0]);

    // Typing in the note sends nothing and decides nothing.
    await page.keyboard.press('n');
    await page.keyboard.type('cfz');
    await page.keyboard.press('Escape');
    expect(decisionPosts).toEqual([]);
    expect(await rowIds()).toEqual(first);

    // Chinese IME: a composing keydown does nothing; key "Process" (keyCode 229) with code KeyJ moves on.
    await page.evaluate(() => document.dispatchEvent(new KeyboardEvent('keydown', { key: 'j', code: 'KeyJ', isComposing: true, bubbles: true })));
    expect(await selectedId()).toBe(first[0]);
    await page.evaluate(() => document.dispatchEvent(new KeyboardEvent('keydown', { key: 'Process', code: 'KeyJ', keyCode: 229, bubbles: true } as KeyboardEventInit)));
    await page.waitForFunction((id) => new URL(location.href).searchParams.get('alert') === id, first[1]);
    await page.keyboard.press('k');
    await page.waitForFunction((id) => new URL(location.href).searchParams.get('alert') === id, first[0]);

    // L with an empty note sends nothing and asks for the permit or document.
    await page.keyboard.press('l');
    expect(await page.textContent('#bar-error')).toMatch(/许可证号/);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('note');
    await page.keyboard.press('Escape');
    expect(decisionPosts).toEqual([]);

    // Three decisions by keyboard: C, F, then P and 3 (cloud).
    const decided: { id: string; status: string; reason?: string }[] = [];
    for (const [keys, status, reason] of [[['c'], 'suspected_illegal'], [['f'], 'needs_field_check'], [['p', '3'], 'pseudo_change', 'cloud']] as const) {
      const id = await selectedId();
      const response = page.waitForResponse((r) => r.url().endsWith(`/api/alerts/${id}/decisions`) && r.request().method() === 'POST');
      for (const key of keys) await page.keyboard.press(key);
      expect((await response).status()).toBe(201);
      expect(await rowIds()).not.toContain(id);
      decided.push({ id, status, ...(reason ? { reason } : {}) });
    }
    expect(await rowIds()).toEqual(first.filter((id) => !decided.some((d) => d.id === id)));
    expect(decisionPosts.map((p) => JSON.parse(p) as Record<string, unknown>)).toEqual(decided.map((d) => expect.objectContaining({ status: d.status, ...(d.reason ? { reason: d.reason } : {}) })));

    // P with no reason and Ctrl+Enter sends nothing and says why.
    await page.keyboard.press('p');
    await page.keyboard.press('Control+Enter');
    expect(await page.textContent('#bar-error')).toMatch(/伪变化原因/);
    await page.keyboard.press('Escape');
    expect(decisionPosts.length).toBe(3);

    // Z within 5 s puts the last one back at its place, selected; the API says pseudo_change is undone.
    const before = await rowIds();
    const undo = page.waitForResponse((r) => r.url().endsWith(`/api/alerts/${decided[2].id}/decisions`) && r.request().method() === 'POST');
    await page.keyboard.press('z');
    expect((await undo).status()).toBe(201);
    await page.waitForFunction((id) => document.querySelector('#queue li[aria-selected="true"]')?.id === `row-${id}`, decided[2].id);
    expect((await rowIds()).length).toBe(before.length + 1);
    decided.pop();

    // The decisions are in each alert's audit trail, in the app and in the API.
    for (const d of decided) {
      const audit = await page.evaluate(async (id) => (await (await fetch(`/api/alerts/${id}/audit`)).json()).items, d.id) as { action: string; actor: string; details: { to: string } }[];
      expect(audit[0]).toMatchObject({ action: 'decision', actor: 'analyst', details: { to: d.status } });
    }
    await page.goto(`${origin}/?alert=${decided[0].id}&status=suspected_illegal`);
    await page.waitForSelector('#audit-list li[data-action="decision"]');
    expect(await page.textContent('#audit-list')).toMatch(/analyst · decision → 疑似违法/);
    await page.goto(`${origin}/`);
    await page.waitForSelector('#queue li[aria-selected="true"]');
    for (const d of decided) expect(await rowIds()).not.toContain(d.id);
    // The top bar counts the two decisions that stand (the undone one does not).
    await page.waitForFunction(() => /^2 done today/.test(document.querySelector('#counts')?.textContent ?? '') || /^今日已处理 2/.test(document.querySelector('#counts')?.textContent ?? ''));

    // English, without a reload; kept after one (the profile has it).
    await page.click('.topbar [data-lang="en"]');
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    expect(await page.textContent('[data-action="suspected_illegal"]')).toMatch(/Suspected illegal/);
    await page.waitForFunction(() => /^change of \d+\.\d{2} ha \(\d+\.\d mu\)/.test(document.querySelector('#trace-sentence')?.textContent ?? ''));
    await page.reload();
    await page.waitForSelector('#queue li[aria-selected="true"]');
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    await page.waitForSelector('#trace-sentence');
    await page.waitForFunction(() => (document.querySelector('.pane-after img.scene') as HTMLImageElement | null)?.naturalWidth! > 0);
    expect(await page.textContent('#area')).toMatch(/^\d+\.\d{2} ha \(\d+\.\d mu\)$/);

    mkdirSync(resolve(ROOT, 'test', '.tmp'), { recursive: true });
    // Evidence downloads for the open alert and for the queue's selection, in the app's language.
    expect(await page.getAttribute('#download-pdf', 'href')).toMatch(/^\/api\/alerts\/OW-[0-9A-F]{12}\/report\.pdf\?lang=en$/);
    expect(await page.getAttribute('[data-export="shp"]', 'href')).toMatch(/^\/api\/export\?format=shp&lang=en/);
    await page.screenshot({ path: SCREENSHOT });
    expect(existsSync(SCREENSHOT)).toBe(true);
    expect(offOrigin).toEqual([]);
  }, 180_000);
});
