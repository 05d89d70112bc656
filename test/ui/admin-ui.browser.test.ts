/// <reference lib="dom" />
/**
 * The admin UI end to end in Debian's Chromium (playwright-core drives /usr/bin/chromium), against a
 * real `trailguard serve --demo` on an ephemeral port with a throwaway data directory.
 *
 * Skipped with the reason when /usr/bin/chromium is absent (`apt-get install chromium`), when
 * TRAILGUARD_TEST_BROWSER=0, or when the UI has not been built (`npm run build`). Set
 * TRAILGUARD_SCREENSHOTS=<dir> to save a screenshot of each page (docs/screenshots is made that way).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'dist/cli/main.js');
const WEB = join(ROOT, 'dist/web/index.html');
const SHOTS = process.env['TRAILGUARD_SCREENSHOTS'] || undefined;

const SKIP = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is absent (install it: apt-get install -y chromium)`
  : process.env['TRAILGUARD_TEST_BROWSER'] === '0'
    ? 'TRAILGUARD_TEST_BROWSER=0'
    : !existsSync(WEB) || !existsSync(CLI)
      ? 'the UI is not built (run npm run build)'
      : false;

/** The demo's brute-force / enumeration source address. */
const ATTACKER = '193.32.162.7';

interface Served {
  child: ChildProcess;
  url: string;
  password: string;
  dataDir: string;
}

/** Starts `trailguard serve --demo --port 0` and reads the URL and the first-run password it prints. */
async function serveDemo(): Promise<Served> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tg-ui-'));
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--demo', '--port', '0', '--data-dir', join(dataDir, 'db'), '--rate-limit-ip', '100000'],
    {
      cwd: dataDir,
      env: { ...process.env, DATABASE_URL: '', REDIS_URL: '', NODE_ENV: 'test' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`serve --demo did not start in 120 s:\n${err}`)),
      120_000,
    );
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}:\n${err}`));
    });
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /Admin:\s+(http:\/\/\S+)/.exec(out)?.[1];
      const password = /password:\s+(\S+)/.exec(out)?.[1];
      if (url && password) {
        clearTimeout(timer);
        child.stdout?.removeAllListeners('data');
        child.stdout?.resume();
        child.removeAllListeners('exit');
        resolve({ child, url: url.endsWith('/') ? url : `${url}/`, password, dataDir });
      }
    });
  });
}

async function shot(page: Page, name: string): Promise<void> {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** Every cell text of one column (by header text) in the page's main table. */
async function column(page: Page, header: string): Promise<string[]> {
  const headers = await page.locator('main table').first().locator('thead th').allInnerTexts();
  const index = headers.findIndex((h) => h.trim().toLowerCase() === header.toLowerCase());
  assert.ok(index >= 0, `column ${header} in ${headers.join(', ')}`);
  return page
    .locator('main table')
    .first()
    .locator(`tbody tr td:nth-child(${index + 1})`)
    .allInnerTexts();
}

async function rowCount(page: Page): Promise<number> {
  return page.locator('main table').first().locator('tbody tr').count();
}

/** Waits until the list shows rows for the current URL (react-query keeps the old rows meanwhile). */
async function settle(page: Page): Promise<void> {
  await page.waitForLoadState('networkidle');
  await page
    .locator('main .table-wrap[aria-busy="false"], main .state.empty, main .state.error')
    .first()
    .waitFor();
}

describe('admin UI in Chromium', { skip: SKIP }, () => {
  let served: Served;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let changesAvailable = false;
  let securityAvailable = false;
  const pageErrors: string[] = [];

  before(async () => {
    served = await serveDemo();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const probe = async (path: string) => (await fetch(`${served.url}api/v1${path}`)).status !== 404;
    changesAvailable = await probe('/changes');
    securityAvailable = await probe('/security-events');
  });

  after(async () => {
    await browser?.close();
    if (served) {
      served.child.kill('SIGTERM');
      await new Promise((r) => served.child.once('exit', r));
      rmSync(served.dataDir, { recursive: true, force: true });
    }
  });

  it('refuses a wrong password with a generic message, then signs in', async () => {
    await page.goto(served.url);
    await page.getByLabel('Username').waitFor();
    await shot(page, 'sign-in');
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    assert.equal(await page.getByRole('alert').innerText(), 'Wrong username or password.');
    await page.getByLabel('Password').fill(served.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  });

  it('shows the dashboard with the hourly chart, device types and top failing IPs', async () => {
    await page.locator('.chart canvas').first().waitFor();
    const devices = await page
      .getByRole('region', { name: 'Device types · 30 days' })
      .locator('.bar-label')
      .allInnerTexts();
    assert.ok(devices.includes('desktop'), `device types: ${devices.join(', ')}`);
    const ips = page.getByRole('region', { name: 'Top failing IPs · last hour' }).locator('li');
    assert.ok((await ips.count()) > 0, 'top failing IPs are listed');
    if (changesAvailable) await page.getByText('change failure rate').waitFor();
    await page.waitForLoadState('networkidle');
    await shot(page, 'dashboard');
  });

  it('follows a dashboard chart to the filtered list behind it', async () => {
    await page
      .getByRole('region', { name: 'Device types · 30 days' })
      .getByRole('link', { name: /mobile/ })
      .click();
    await page.getByRole('heading', { name: 'Login history' }).waitFor();
    await settle(page);
    assert.match(page.url(), /deviceType=mobile/);
    const devices = await column(page, 'Device');
    assert.ok(devices.length > 0);
    for (const d of devices) assert.match(d, /^mobile/);
  });

  it('lists login history and narrows it with a filter and with a search', async () => {
    await page.goto(`${served.url}logins`);
    await settle(page);
    assert.equal(await rowCount(page), 50, 'a full first page');
    await shot(page, 'login-history');

    await page.getByLabel('Status').selectOption('false');
    await page.waitForURL(/success=false/);
    await settle(page);
    const statuses = await column(page, 'Status');
    assert.ok(statuses.length > 0);
    for (const s of statuses) assert.match(s, /^failed/);

    await page.getByRole('searchbox', { name: 'Search logins' }).fill(ATTACKER);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/ip=193\.32\.162\.7/);
    await settle(page);
    const ips = await column(page, 'IP address');
    assert.ok(ips.length > 0 && ips.length < 50, `${ips.length} rows`);
    for (const ip of ips) assert.equal(ip, ATTACKER);

    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.getByRole('searchbox', { name: 'Search logins' }).fill('carol');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/search=carol/);
    await settle(page);
    // A search stops at its time budget; on a slow machine the first page may hold no match yet, and
    // the notice's button searches on.
    for (let i = 0; i < 20 && (await rowCount(page)) === 0; i++) {
      await page.getByRole('button', { name: 'Search older logins' }).click();
      await settle(page);
    }
    const names = await column(page, 'Username');
    assert.ok(names.length > 0);
    for (const n of names) assert.match(n, /carol/);
  });

  it('keeps filters in the URL, so a shared link opens the same view', async () => {
    await page.goto(`${served.url}logins?success=true&deviceType=desktop`);
    await settle(page);
    assert.equal(await page.getByLabel('Status').inputValue(), 'true');
    assert.equal(await page.getByLabel('Device').inputValue(), 'desktop');
    for (const s of await column(page, 'Status')) assert.equal(s, 'success');
  });

  it('pages with cursors', async () => {
    await page.goto(`${served.url}logins`);
    await settle(page);
    const first = await column(page, 'Time');
    await page.getByRole('button', { name: 'Older ›' }).click();
    await page.waitForURL(/cursor=/);
    await settle(page);
    const second = await column(page, 'Time');
    assert.notDeepEqual(second, first);
  });

  it('drills down by year, month and day', async () => {
    await page.goto(`${served.url}logins`);
    await settle(page);
    const drill = page.getByRole('navigation', { name: 'Date drill-down' });
    await drill.locator('.period').first().click();
    await page.waitForURL(/y=\d{4}/);
    await drill.locator('.period').first().waitFor();
    await drill.locator('.period').last().click();
    await page.waitForURL(/m=\d+/);
    await drill.locator('.period').first().waitFor();
    const dayButton = drill.locator('.period').last();
    const [dayText] = (await dayButton.innerText()).split(/\s+/);
    await dayButton.click();
    await page.waitForURL(/d=\d+/);
    await settle(page);
    const url = new URL(page.url());
    const y = Number(url.searchParams.get('y'));
    const m = Number(url.searchParams.get('m'));
    const d = Number(url.searchParams.get('d'));
    assert.equal(String(d), dayText);
    const crumbs = await drill.locator('ol li').allInnerTexts();
    assert.equal(crumbs.length, 4, crumbs.join(' › '));
    // Every row is inside that UTC day, checked against the API with the same window.
    const api = await page.evaluate(
      async ([from, to]) =>
        (await (await fetch(`/api/v1/logins?from=${from}&to=${to}&limit=1000`)).json()) as {
          items: { loginAt: string }[];
        },
      [new Date(Date.UTC(y, m - 1, d)).toISOString(), new Date(Date.UTC(y, m - 1, d + 1)).toISOString()],
    );
    assert.equal(await rowCount(page), Math.min(50, api.items.length));
    for (const item of api.items) assert.equal(new Date(item.loginAt).getUTCDate(), d);
  });

  it('opens a login record with every field and its metadata', async () => {
    await page.goto(`${served.url}logins?search=admin&success=true`);
    await settle(page);
    await page.locator('main table tbody tr').first().locator('a').first().click();
    await page.getByRole('heading', { name: 'Login record' }).waitFor();
    for (const name of ['Attempt', 'Client', 'Metadata']) await page.getByRole('heading', { name }).waitFor();
    const text = await page.locator('main').innerText();
    assert.match(text, /User agent/);
    assert.match(text, /trailguard-admin/, 'the metadata is shown');
    await shot(page, 'login-detail');
  });

  it('shows an IP page with attempts, countries, devices and the DB-IP attribution', async () => {
    await page.goto(`${served.url}security/ip/${ATTACKER}`);
    await page.getByRole('heading', { name: `IP ${ATTACKER}` }).waitFor();
    await page.getByRole('region', { name: 'Countries' }).waitFor();
    await page.waitForLoadState('networkidle');
    const failed = await page
      .getByRole('region', { name: 'Attempts' })
      .locator('.stat-value')
      .first()
      .innerText();
    assert.ok(Number(failed) >= 20, `failed attempts: ${failed}`);
    assert.match(
      await page.locator('main').innerText(),
      /IP geolocation by DB-IP \(https:\/\/db-ip\.com\), CC BY 4\.0/,
    );
    await shot(page, 'ip-page');
  });

  it('resets the counters of an IP after a confirmation', async (t) => {
    if (!securityAvailable) return t.skip('the server has no security endpoints yet');
    await page.getByRole('button', { name: 'Reset counters' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Reset counters' }).click();
    // The notice, not the reset's own event that the refreshed event list may show at the same time.
    await page.getByRole('status').filter({ hasText: 'Counters reset' }).waitFor();
  });

  it('lists security events with a working filter, and the signals view', async (t) => {
    if (!securityAvailable) return t.skip('the server has no security endpoints yet');
    await page.goto(`${served.url}security`);
    await settle(page);
    assert.ok((await rowCount(page)) > 0);
    await page.getByLabel('Severity').selectOption('critical');
    await page.waitForURL(/severity=critical/);
    await settle(page);
    const severities = await column(page, 'Severity');
    assert.ok(severities.length > 0);
    for (const s of severities) assert.equal(s, 'critical');
    await shot(page, 'security-events');
    await page.getByRole('tab', { name: 'Active signals' }).click();
    await page.waitForURL(/\/security\/signals/);
    await page.waitForLoadState('networkidle');
    await shot(page, 'signals');
  });

  it('shows a user page', async () => {
    await page.goto(`${served.url}security/user/${encodeURIComponent('carol@example.com')}`);
    await page.getByRole('heading', { name: 'User carol@example.com' }).waitFor();
    await page.getByRole('region', { name: 'Devices' }).waitFor();
    await page.waitForLoadState('networkidle');
    await shot(page, 'user-page');
  });

  it('works with the keyboard: skip link, then the navigation', async () => {
    await page.goto(`${served.url}logins`);
    await settle(page);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Trailguard');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Dashboard');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  });

  it('marks changes rolled back in bulk, after a confirmation, and records it in their history', async (t) => {
    if (!changesAvailable) return t.skip('the server has no change log endpoints yet');
    await page.goto(`${served.url}changes?rolledBack=false`);
    await settle(page);
    await shot(page, 'change-log');
    const boxes = page.locator('main table tbody input[type=checkbox]:not([disabled])');
    assert.ok((await boxes.count()) >= 2);
    const titles = [
      await page.locator('main table tbody tr').nth(0).locator('td').nth(2).innerText(),
      await page.locator('main table tbody tr').nth(1).locator('td').nth(2).innerText(),
    ];
    await boxes.nth(0).check();
    await boxes.nth(1).check();
    await page.getByRole('button', { name: 'Mark rolled back (2)' }).click();
    await page.getByRole('dialog').getByLabel('Notes (optional)').fill('bulk rollback from the UI test');
    await page.getByRole('dialog').getByRole('button', { name: 'Mark rolled back' }).click();
    await page.getByText('2 changes marked rolled back.').waitFor();
    await page.goto(`${served.url}changes?rolledBack=true&search=${encodeURIComponent(titles[0] ?? '')}`);
    await settle(page);
    await page.locator('main table tbody tr').first().getByRole('link').click();
    await page.getByRole('heading', { name: 'History' }).waitFor();
    const history = await page.locator('.timeline').innerText();
    assert.match(history, /rolled back/);
    assert.match(history, /bulk rollback from the UI test/);
  });

  it('shows the server refusing an approval by the person who performed the change', async (t) => {
    if (!changesAvailable) return t.skip('the server has no change log endpoints yet');
    // A change performed by the signed-in admin, logged through the API with the session.
    const created = await page.evaluate(async () => {
      const s = (await (await fetch('/api/v1/auth/session')).json()) as {
        user: { id: string; username: string };
        csrfToken: string;
      };
      const res = await fetch('/api/v1/changes', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrfToken },
        body: JSON.stringify({
          changeType: 'configuration',
          title: 'Raise the session timeout (self-approval test)',
          impactLevel: 'high',
          performedBy: { id: s.user.username, name: s.user.username },
        }),
      });
      return { status: res.status, body: (await res.json()) as { id: string } };
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await page.goto(`${served.url}changes/${created.body.id}`);
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Approve' }).click();
    const alert = page.locator('.notice.bad');
    await alert.waitFor();
    assert.match(await alert.innerText(), /Refused by the server \(CHANGE_SELF_APPROVAL\)/);
    assert.match(await page.locator('main').innerText(), /pending/, 'the change is still pending');
    await shot(page, 'change-detail');
  });

  it('fits a phone-width screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${served.url}`);
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.waitForLoadState('networkidle');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the page scrolls sideways by ${overflow}px`);
    await page.getByRole('button', { name: 'Menu' }).click();
    await page.getByRole('link', { name: 'Login history' }).waitFor();
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'phone-dashboard.png') });
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('raised no script errors in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
