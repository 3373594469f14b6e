/**
 * The welcome page in a real headless Chromium (Debian's /usr/bin/chromium driven by
 * playwright-core, a fresh profile): the server table lists every server with nickname,
 * transport, connected state and round-trip time; a server that goes down shows as
 * disconnected after a reload; a file uploaded through the page's form comes back as a
 * cap whose download link returns the same bytes. The grid is real (TLS storage servers
 * on 127.0.0.1).
 *
 * Without Chromium: fails under CI=true, skips loudly otherwise.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startGatewayFixture, request } from './helpers.js';

const CHROMIUM = process.env.TAHOE_TS_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function chromiumOrSkip(t: TestContext): boolean {
  if (existsSync(CHROMIUM)) return true;
  const msg = `!!! ${CHROMIUM} not found: install Debian's chromium (apt-get install chromium) or set TAHOE_TS_CHROMIUM`;
  if (process.env.CI === 'true') throw new Error(msg);
  process.stderr.write(`\n${msg} — SKIPPING\n\n`);
  t.skip(msg);
  return false;
}

async function launch(t: TestContext): Promise<BrowserContext> {
  // One hook, in this order: Chromium keeps writing its profile until it has exited, so the
  // profile is removed only after close() (separate after-hooks run first-registered first,
  // which removed the profile under a live browser, failed, and left the browser running).
  const profile = mkdtempSync(path.join(os.tmpdir(), 'tahoe-ts-chromium-'));
  const launched: { context?: BrowserContext } = {};
  t.after(async () => {
    try {
      await launched.context?.close();
    } finally {
      rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    }
  });
  launched.context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, timeout: 60_000, chromiumSandbox: false });
  return launched.context;
}

interface Row {
  nickname: string;
  nodeid: string;
  transport: string;
  connected: string;
  rtt: string;
  since: string;
  space: string;
}

async function serverRows(page: Page): Promise<Row[]> {
  // No named helpers inside: tsx would wrap them with a __name() the page does not have.
  return page.$$eval('#servers tr.server', (trs) =>
    trs.map((tr) => ({
      nickname: (tr.querySelector('td.nickname')?.textContent ?? '').trim(),
      nodeid: tr.getAttribute('data-nodeid') ?? '',
      transport: (tr.querySelector('td.transport')?.textContent ?? '').trim(),
      connected: tr.querySelector('td.connected')?.getAttribute('data-connected') ?? '',
      rtt: (tr.querySelector('td.rtt')?.textContent ?? '').trim(),
      since: (tr.querySelector('td.since')?.textContent ?? '').trim(),
      space: (tr.querySelector('td.space')?.textContent ?? '').trim(),
    })),
  );
}

test('welcome page in headless Chromium: servers, a server going down, upload through the form', async (t) => {
  if (!chromiumOrSkip(t)) return;
  const f = await startGatewayFixture(t);
  const context = await launch(t);
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);

  await t.test('every server: nickname, transport, connected, since, RTT, space', async () => {
    const response = await page.goto(`${f.base}/`);
    assert.equal(response?.status(), 200);
    assert.match(await page.title(), /^tahoe-ts — web-test-client$/);
    const rows = await serverRows(page);
    assert.deepEqual(rows.map((r) => r.nickname).sort(), ['server-0', 'server-1', 'server-2', 'server-3']);
    for (const r of rows) {
      assert.match(r.nodeid, /^v0-[a-z2-7]+$/);
      assert.equal(r.transport, 'tcp');
      assert.equal(r.connected, 'true');
      assert.match(r.rtt, /^\d+ ms$/);
      assert.match(r.since, /\d\d:\d\d:\d\d \d\d-[A-Z][a-z]{2}-\d{4} \(\d+ s ago\)/);
      assert.match(r.space, /^\d+(\.\d+)? [kMGTP]?B$/);
    }
    assert.equal((await page.textContent('#server-summary'))?.trim(), '(4 of 4 connected)');
  });

  await t.test('a server that goes down turns disconnected after a reload', async () => {
    const victim = f.grid.nodes[2];
    await victim.kill();
    let row: Row | undefined;
    for (let i = 0; i < 60; i++) {
      await page.reload();
      row = (await serverRows(page)).find((r) => r.nickname === victim.nickname);
      if (row?.connected === 'false') break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(row?.connected, 'false', 'the killed server is shown as disconnected');
    const text = await page.textContent(`tr[data-nodeid="${victim.serverId}"] td.connected`);
    assert.match(text ?? '', /^Disconnected/);
    assert.equal((await page.textContent('#server-summary'))?.trim(), '(3 of 4 connected)');
    const others = (await serverRows(page)).filter((r) => r.nickname !== victim.nickname);
    assert.ok(others.every((r) => r.connected === 'true'));
  });

  await t.test('uploading through the form gives a cap that downloads', async () => {
    await page.goto(`${f.base}/`);
    const content = `hello from Chromium ${Date.now()}\n`.repeat(50);
    await page.setInputFiles('#upload-file', { name: 'greeting.txt', mimeType: 'text/plain', buffer: Buffer.from(content) });
    await Promise.all([page.waitForURL(`${f.base}/uri`), page.click('#upload-submit')]);
    if ((await page.$('#cap')) === null) assert.fail(`no cap on the result page: ${await page.innerText('body')}`);
    const cap = (await page.textContent('#cap'))?.trim() ?? '';
    assert.match(cap, /^URI:CHK:[a-z2-7]+:[a-z2-7]+:2:4:\d+$/);
    // The page's download link (typed text/plain by its filename) shows the file.
    await Promise.all([page.waitForURL(/\/uri\/URI%3ACHK%3A/), page.click('#download')]);
    assert.equal((await page.innerText('body')).trimEnd(), content.trimEnd());
    // And any HTTP client gets the same bytes.
    const back = await request(`${f.base}/uri/${encodeURIComponent(cap)}`);
    assert.equal(back.text, content);
  });

  await t.test('the download form redirects to the file', async () => {
    const put = await request(`${f.base}/uri`, { method: 'PUT', body: 'via the download form' });
    await page.goto(`${f.base}/`);
    await page.fill('#download-form input[name="uri"]', put.text);
    await page.fill('#download-form input[name="filename"]', 'note.txt');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-form input[type="submit"]')]);
    assert.equal(download.suggestedFilename(), 'note.txt');
    const saved = await download.path();
    assert.ok(saved !== null);
    const { readFileSync } = await import('node:fs');
    assert.equal(readFileSync(saved, 'utf8'), 'via the download form');
  });
});
