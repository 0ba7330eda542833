// The dashboard's main path in a real browser against the real binary: sign in (a wrong key first), create a
// tracking token, push events through POST /ingest (also by running the dashboard's own curl snippet), see them in
// the table, the totals and the chart, filter, export CSV, deactivate and delete tokens, sign out, remember.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

import { launch, watchPage } from './support/browser.mjs';
import { parseCsv } from './support/csv.mjs';
import { API_KEY, INGEST_KEY, Server } from './support/server.mjs';

const TZ = 'Europe/Berlin';  // not the machine's zone: days and times must follow the browser's

// Exact money as the server writes it ("0.500000000") -> BigInt nano-USD, and back.
const nano = (exact) => { const [w, f = ''] = exact.split('.'); return BigInt(w) * 1_000_000_000n + BigInt((f + '000000000').slice(0, 9)); };
const exact = (n) => `${n / 1_000_000_000n}.${(n % 1_000_000_000n).toString().padStart(9, '0')}`;
// Dates and times in Berlin built from parts: a locale's whole format differs between ICU versions (Debian's node
// 18 writes en-CA dates as 11/25/2026, node 20 as 2026-11-25).
const berlinParts = (date) => Object.fromEntries(new Intl.DateTimeFormat('en-US', {
  timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  hourCycle: 'h23',
}).formatToParts(date).map((p) => [p.type, p.value]));
const berlinDay = (date) => { const p = berlinParts(date); return `${p.year}-${p.month}-${p.day}`; };
const berlinTime = (date) => { const p = berlinParts(date); return `${berlinDay(date)} ${p.hour}:${p.minute}:${p.second}`; };

describe('dashboard', () => {
  let server;
  let browser;
  let context;
  let page;
  let watch;
  const events = [];   // what was pushed, newest last: {model, label, cost_usd_exact, project, user}
  let tokenA;          // created in the browser
  let tokenB;          // created through the API

  before(async () => {
    server = await new Server().start();
    browser = await launch();
    context = await browser.newContext({
      viewport: { width: 1280, height: 900 }, timezoneId: TZ, locale: 'en-US', acceptDownloads: true,
    });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    page = await context.newPage();
    watch = await watchPage(page);
  });

  after(async () => {
    await browser?.close();
    const code = await server?.stop();
    assert.deepEqual(server.sanitizerReports(), []);
    assert.equal(code, 0, server.stderr.slice(-2000));
  });

  async function pushEvent(token, label, event) {
    const minutesAgo = 10 - events.length;  // distinct, increasing times: the table's order is known
    const body = {
      tracking_token: token, event_id: `e2e-${events.length}`, provider: 'openai',
      prompt_tokens: 1000 + events.length, completion_tokens: 100 + events.length,
      timestamp: new Date(Date.now() - minutesAgo * 60_000).toISOString(), ...event,
    };
    const res = await server.ingest(body);
    assert.equal(res.status, 201, res.text);
    events.push({ ...body, label, cost_usd_exact: res.json.cost_usd_exact });
  }

  async function usageRows() {
    return page.$$eval('#usage-table tbody tr', (trs) => trs.map((tr) => Array.from(tr.cells, (c) => c.innerText.trim())));
  }

  it('answers a wrong key with a clear message and stores nothing', async () => {
    await page.goto(`${server.url}/dashboard`);
    await page.waitForSelector('#signin-key');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'signin-key');
    await page.fill('#signin-key', 'not-the-key');
    await page.click('#signin-submit');
    const error = page.locator('#signin-error');
    await error.waitFor({ state: 'visible' });
    assert.match(await error.innerText(), /not valid for this server \(401\)/);
    assert.equal(await page.getAttribute('#signin-key', 'aria-invalid'), 'true');
    assert.equal(await page.isHidden('#app'), true);
    assert.deepEqual(await page.evaluate(() => [localStorage.length, sessionStorage.length]), [0, 0]);
  });

  it('signs in for this tab only and shows empty states on a new database', async () => {
    await page.fill('#signin-key', API_KEY);
    await page.click('#signin-submit');
    await page.waitForSelector('#app:not([hidden])');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('cost-guardian.admin-key')), API_KEY);
    assert.equal(await page.evaluate(() => localStorage.getItem('cost-guardian.admin-key')), null);
    await page.waitForSelector('#chart-empty:not([hidden])');
    assert.match(await page.innerText('#card-today [data-field="cost"]'), /^\$0\.00$/);
    assert.match(await page.innerText('.view-head'), /Europe\/Berlin/);
    await page.click('a[data-view="usage"]');
    await page.waitForSelector('#usage-empty:not([hidden])');
    assert.match(await page.innerText('#usage-empty'), /create one under Tracking tokens/);
  });

  it('creates a tracking token and shows it once with snippets for this server', async () => {
    await page.click('a[data-view="tokens"]');
    await page.waitForSelector('#tokens-empty:not([hidden])');
    await page.fill('#new-token-label', 'E2E app');
    await page.click('#create-token-submit');
    await page.waitForSelector('#token-dialog[open]');
    tokenA = (await page.innerText('#new-token-value')).trim();
    const listed = (await server.admin('GET', '/ingest/tokens')).json.tokens;
    assert.equal(listed.length, 1);
    assert.equal(listed[0].token, tokenA);
    assert.equal(listed[0].label, 'E2E app');

    for (const id of ['#snippet-curl', '#snippet-python', '#snippet-node']) {
      const code = await page.textContent(id);
      assert.ok(code.includes(server.url), `${id} names this server`);
      assert.ok(code.includes(tokenA), `${id} holds the new token`);
      assert.ok(code.includes('COST_GUARDIAN_INGEST_KEY'), `${id} reads the ingest key from the environment`);
      assert.ok(!code.includes(API_KEY), `${id} must not leak the admin key`);
    }
    // Tabs by keyboard: arrow keys move between the snippets.
    await page.focus('#tab-curl');
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-python');
    assert.equal(await page.isVisible('#snippet-python'), true);
    assert.equal(await page.isVisible('#snippet-curl'), false);

    await page.click('#copy-new-token');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), tokenA);

    // The curl snippet, run as it is shown (with the ingest key in the environment), stores an event.
    const curl = await page.textContent('#snippet-curl');
    const out = execFileSync('bash', ['-c', `${curl} -s -w '\\n%{http_code}'`],
      { env: { ...process.env, COST_GUARDIAN_INGEST_KEY: INGEST_KEY }, encoding: 'utf8' });
    const [json, status] = out.trim().split('\n');
    assert.equal(status, '201', out);
    events.push({ model: 'gpt-4o-mini', label: 'E2E app', cost_usd_exact: JSON.parse(json).cost_usd_exact, curl: true });

    await page.click('#token-dialog .dialog-actions [data-close]');
    assert.equal(await page.isVisible('#token-dialog'), false);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'create-token-submit', 'focus returns');
    await page.waitForSelector('#tokens-table tbody tr');
    assert.match(await page.innerText('#tokens-table tbody tr'), /E2E app/);
  });

  it('shows pushed events in the table, newest first, with exact totals', async () => {
    tokenB = (await server.admin('POST', '/ingest/tokens', { body: { label: 'E2E batch' } })).json;
    await pushEvent(tokenA, 'E2E app', { model: 'gpt-4o-mini', cost_usd: 0.0125, project: 'checkout', user: 'alice' });
    await pushEvent(tokenA, 'E2E app', { model: 'claude-sonnet-4-5', provider: 'anthropic', cost_usd: 1.25, project: 'search', user: 'bob' });
    await pushEvent(tokenB.token, 'E2E batch', { model: 'gpt-4o-mini', cost_usd: 0.5, project: 'checkout', user: 'alice' });
    await pushEvent(tokenB.token, 'E2E batch', { model: 'gemini-e2e', provider: 'google', cost_usd: 0.000004,
      operation: 'generate_content' });
    // The curl event has no timestamp (now): it is the newest; the others are ordered by their times.
    const newestFirst = [events[0], ...events.slice(1).reverse()];

    await page.click('a[data-view="usage"]');
    await page.waitForFunction((n) => document.querySelectorAll('#usage-table tbody tr').length === n, events.length);
    const rows = await usageRows();
    assert.deepEqual(rows.map((r) => r[1].split('\n')[0]), newestFirst.map((e) => e.model));
    assert.deepEqual(rows.map((r) => r[2]), newestFirst.map((e) => e.label));
    assert.equal(rows[1][8], '$0.000004');   // six decimals: a column of amounts lines up
    assert.equal(rows[2][8], '$0.500000');
    assert.equal(rows[3][8], '$1.250000');
    // Times in the browser's zone (Berlin), not UTC.
    assert.equal(rows[1][0], berlinTime(new Date(events[4].timestamp)));

    const total = events.reduce((sum, e) => sum + nano(e.cost_usd_exact), 0n);
    assert.match(await page.innerText('#usage-totals'), /5 requests/);
    assert.equal(await page.getAttribute('#usage-totals [data-field="cost"]', 'title'), `$${exact(total)}`);
    assert.equal(await page.innerText('#usage-totals [data-field="cost"]'), `$${(Number(total) / 1e9).toFixed(2)}`);
    assert.match(await page.innerText('#page-label'), /1–5 of 5/);

    // A row opens to every stored field, by keyboard too, and stays open across a refresh.
    const toggle = page.locator('#usage-table tbody tr:first-child button.disclosure');
    await toggle.focus();
    await page.keyboard.press('Enter');
    const details = page.locator('#usage-table tbody tr.details');
    await details.waitFor();
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    const text = await details.innerText();
    assert.match(text, /Event id\s+chatcmpl-123/);  // the curl snippet's event
    assert.ok(text.includes(`$${events[0].cost_usd_exact} · server`), text);
    await page.evaluate(() => document.getElementById('refresh').click());  // a refresh that moves no focus
    await page.waitForFunction(() => !document.body.classList.contains('busy'));
    assert.equal(await details.count(), 1);
    assert.equal(await page.evaluate(() => document.activeElement.classList.contains('disclosure')), true);
    await page.keyboard.press('Enter');
    await details.waitFor({ state: 'detached' });
    // The kind of call, when the client said so (OpenTelemetry's gen_ai.operation.name).
    const second = page.locator('#usage-table tbody tr:nth-child(2) button.disclosure');
    await second.click();
    await details.waitFor();
    assert.match(await details.innerText(), /Operation\s+generate_content/);
    await second.click();
    await details.waitFor({ state: 'detached' });
  });

  it('draws the daily chart from the same numbers, by model and by tracking token', async () => {
    await page.click('a[data-view="overview"]');
    const chartData = () => page.evaluate(() => {
      const chart = window.Chart.getChart(document.getElementById('cost-chart'));
      return { labels: chart.data.labels, datasets: chart.data.datasets.map((d) => ({ label: d.label, data: d.data })) };
    });
    await page.waitForFunction(() => window.Chart?.getChart(document.getElementById('cost-chart'))?.data.datasets.length > 0);
    let data = await chartData();
    const total = Number(events.reduce((sum, e) => sum + nano(e.cost_usd_exact), 0n)) / 1e9;
    const sum = (d) => d.datasets.flatMap((s) => s.data).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum(data) - total) < 1e-9, `${sum(data)} vs ${total}`);
    assert.deepEqual(new Set(data.datasets.map((d) => d.label)), new Set(['gpt-4o-mini', 'claude-sonnet-4-5', 'gemini-e2e']));
    assert.equal(data.labels.at(-1), berlinDay(new Date()));  // the last bar is today, in the browser's zone
    assert.equal(data.labels.length, 30);
    assert.equal(await page.isHidden('#chart-empty'), true);

    await page.click('label[for="stack-token"]');
    await page.waitForFunction(() => window.Chart.getChart(document.getElementById('cost-chart')).data.datasets.some((d) => d.label === 'E2E batch'));
    data = await chartData();
    assert.deepEqual(new Set(data.datasets.map((d) => d.label)), new Set(['E2E app', 'E2E batch']));
    assert.ok(Math.abs(sum(data) - total) < 1e-9);

    // Cards and breakdowns agree with the events (all of them are within today or the last minutes).
    const today = berlinDay(new Date());
    const todays = events.filter((e) => !e.timestamp || berlinDay(new Date(e.timestamp)) === today);
    const todayTotal = todays.reduce((s, e) => s + nano(e.cost_usd_exact), 0n);
    assert.equal(await page.getAttribute('#card-today [data-field="cost"]', 'title'), `$${exact(todayTotal)}`);
    assert.match(await page.innerText('#card-30d'), /5 requests/);
    const projects = await page.$$eval('#breakdown-project tbody tr', (trs) => trs.map((tr) => tr.cells[0].innerText.trim()));
    assert.deepEqual(projects, ['search', 'checkout', '(no project)']);  // by cost, largest first

    // A breakdown's name filters everything by it.
    await page.getByRole('button', { name: 'Show only project checkout' }).click();
    await page.waitForFunction(() => document.querySelectorAll('#breakdown-model tbody tr').length === 1);
    assert.equal(await page.inputValue('#f-project'), 'checkout');
    assert.equal(await page.innerText('#breakdown-model tbody tr td:first-child'), 'gpt-4o-mini');
    await page.click('#f-clear');
    await page.waitForFunction(() => document.querySelectorAll('#breakdown-model tbody tr').length === 3);
    assert.equal(await page.inputValue('#f-project'), '');
  });

  it('filters the table, totals and URL, and exports exactly the filtered rows as CSV', async () => {
    await page.click('a[data-view="usage"]');
    await page.waitForSelector('#usage-table tbody tr');
    await page.selectOption('#f-model', 'gpt-4o-mini');
    await page.waitForFunction(() => document.querySelectorAll('#usage-table tbody tr').length === 3);
    let rows = await usageRows();
    assert.ok(rows.every((r) => r[1].startsWith('gpt-4o-mini')));
    assert.match(await page.innerText('#usage-totals'), /3 requests/);
    assert.match(page.url(), /model=gpt-4o-mini/);

    await page.fill('#f-project', 'checkout');
    await page.press('#f-project', 'Enter');
    await page.waitForFunction(() => document.querySelectorAll('#usage-table tbody tr').length === 2);
    rows = await usageRows();
    assert.deepEqual(rows.map((r) => r[3]), ['checkout', 'checkout']);
    assert.match(await page.innerText('#usage-totals'), /2 requests/);

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
    assert.match(download.suggestedFilename(), /^cost-guardian-.*\.csv$/);
    const csv = parseCsv(readFileSync(await download.path(), 'utf8'));
    const [header, ...records] = csv;
    const col = (name) => header.indexOf(name);
    assert.equal(records.length, 2);
    const expected = events.filter((e) => e.model === 'gpt-4o-mini' && e.project === 'checkout');
    assert.deepEqual(records.map((r) => r[col('model')]), ['gpt-4o-mini', 'gpt-4o-mini']);
    assert.deepEqual(records.map((r) => r[col('project')]), ['checkout', 'checkout']);
    assert.deepEqual(records.map((r) => r[col('cost_usd')]), expected.map((e) => e.cost_usd_exact));  // oldest first
    assert.deepEqual(records.map((r) => r[col('token_label')]), expected.map((e) => e.label));

    // A reload keeps the section and the filters (they live in the URL).
    await page.reload();
    await page.waitForFunction(() => document.querySelectorAll('#usage-table tbody tr').length === 2);
    assert.equal(await page.inputValue('#f-model'), 'gpt-4o-mini');
    assert.equal(await page.inputValue('#f-project'), 'checkout');
    await page.click('#f-clear');
    await page.waitForFunction((n) => document.querySelectorAll('#usage-table tbody tr').length === n, events.length);
  });

  it('deactivates, reactivates and deletes tokens, with a confirmation, and ingestion follows at once', async () => {
    await page.click('a[data-view="tokens"]');
    const rowA = page.locator('#tokens-table tbody tr', { hasText: 'E2E app' });
    await rowA.waitFor();
    assert.match(await rowA.innerText(), /Active/);
    assert.match(await rowA.locator('td').nth(3).innerText(), /just now|minute/);  // last seen
    assert.equal(await rowA.locator('td.num').innerText(), '3');  // usage count: the curl event and two more

    await rowA.getByRole('button', { name: 'Deactivate E2E app' }).click();
    await rowA.locator('.badge', { hasText: /^Inactive$/ }).waitFor();
    let res = await server.ingest({ tracking_token: tokenA, model: 'gpt-4o-mini', event_id: 'after-deactivate' });
    assert.equal(res.status, 403, res.text);
    await rowA.getByRole('button', { name: 'Activate E2E app' }).click();
    await rowA.locator('.badge', { hasText: /^Active$/ }).waitFor();  // a plain 'Active' would match 'Inactive'
    res = await server.ingest({ tracking_token: tokenA, model: 'gpt-4o-mini', event_id: 'after-activate' });
    assert.equal(res.status, 201, res.text);

    const rowB = page.locator('#tokens-table tbody tr', { hasText: 'E2E batch' });
    const deleteB = rowB.getByRole('button', { name: 'Delete E2E batch' });
    await deleteB.click();
    await page.waitForSelector('#confirm-dialog[open]');
    assert.match(await page.innerText('#confirm-dialog'), /Delete “E2E batch”\?[\s\S]*2 stored events stay/);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'confirm-cancel', 'the safe choice has focus');
    await page.keyboard.press('Escape');
    assert.equal(await page.isVisible('#confirm-dialog'), false);
    assert.equal(await rowB.count(), 1, 'Escape deletes nothing');
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Delete E2E batch');

    await deleteB.click();
    await page.click('#confirm-ok');
    await rowB.waitFor({ state: 'detached' });
    res = await server.ingest({ tracking_token: tokenB.token, model: 'gpt-4o-mini', event_id: 'after-delete' });
    assert.equal(res.status, 404, res.text);
    assert.deepEqual((await server.admin('GET', '/ingest/tokens')).json.tokens.map((t) => t.label), ['E2E app']);
  });

  it('signs out, forgetting the key; "remember on this device" survives a reload until sign-out', async () => {
    await page.click('#signout');
    await page.waitForSelector('#signin:not([hidden])');
    assert.deepEqual(await page.evaluate(() => [localStorage.getItem('cost-guardian.admin-key'), sessionStorage.getItem('cost-guardian.admin-key')]), [null, null]);
    const left = await page.evaluate(() => document.body.innerHTML);
    const total = exact(events.reduce((sum, e) => sum + nano(e.cost_usd_exact), 0n));
    for (const shown of ['E2E app', 'gpt-4o-mini', 'checkout', tokenA, '$0.50', total])
      assert.ok(!left.includes(shown), `"${shown}" stayed in the page after sign-out`);
    await page.reload();
    await page.waitForSelector('#signin:not([hidden])');

    await page.fill('#signin-key', API_KEY);
    await page.check('#signin-remember');
    await page.click('#signin-submit');
    await page.waitForSelector('#app:not([hidden])');
    assert.equal(await page.evaluate(() => localStorage.getItem('cost-guardian.admin-key')), API_KEY);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('cost-guardian.admin-key')), null);
    // A new tab of the same browser profile is signed in too.
    const other = await context.newPage();
    await other.goto(`${server.url}/dashboard#tokens`);
    await other.waitForSelector('#tokens-table tbody tr');
    await other.close();
    await page.click('#signout');
    await page.waitForSelector('#signin:not([hidden])');
    assert.equal(await page.evaluate(() => localStorage.getItem('cost-guardian.admin-key')), null);
  });

  it('ran without a Content-Security-Policy violation or a script error', async () => {
    assert.deepEqual(await watch.cspViolations(), []);
    assert.deepEqual(watch.problems, []);
  });
});
