// The dashboard beyond the happy path: auto-refresh that keeps the user's place, the server going away and coming
// back, a key that stopped working (401), the rate limit (429), a phone-sized screen, and keyboard-only use.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { launch, watchPage } from './support/browser.mjs';
import { API_KEY, Server } from './support/server.mjs';

const KEY_NAME = 'cost-guardian.admin-key';

async function signIn(page, server, { remember = false } = {}) {
  await page.goto(`${server.url}/dashboard`);
  await page.fill('#signin-key', API_KEY);
  if (remember) await page.check('#signin-remember');
  await page.click('#signin-submit');
  await page.waitForSelector('#app:not([hidden])');
}

async function pushEvents(server, token, count, prefix) {
  const now = Date.now();
  for (let i = 0; i < count; i += 10) {
    const batch = [];
    for (let j = i; j < Math.min(count, i + 10); j += 1) {
      batch.push(server.ingest({
        tracking_token: token, event_id: `${prefix}-${j}`, model: j % 2 ? 'gpt-4o-mini' : 'gpt-4o',
        prompt_tokens: 100 + j, completion_tokens: 10, cost_usd: 0.001 * (j + 1),
        timestamp: new Date(now - (count - j) * 60_000).toISOString(),
      }));
    }
    for (const res of await Promise.all(batch)) assert.equal(res.status, 201, res.text);
  }
}

function stopped(server) {
  return async () => {
    const code = await server.stop();
    assert.deepEqual(server.sanitizerReports(), []);
    assert.equal(code, 0, server.stderr.slice(-2000));
  };
}

describe('dashboard states', () => {
  let browser;

  before(async () => { browser = await launch(); });
  after(async () => { await browser?.close(); });

  describe('auto-refresh and the server going away', () => {
    let server;
    let token;
    before(async () => {
      server = await new Server().start();
      token = (await server.admin('POST', '/ingest/tokens', { body: { label: 'refresh' } })).json.token;
      await pushEvents(server, token, 60, 'r');
    });
    after(async () => stopped(server)());

    it('refreshes in place: same page, same rows, same focus and scroll, new totals', async () => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 700 } });
      const page = await context.newPage();
      const watch = await watchPage(page);
      await page.clock.install();
      await signIn(page, server);

      // The chart is updated, never rebuilt.
      await page.waitForFunction(() => window.Chart?.getChart(document.getElementById('cost-chart'))?.data.datasets.length > 0);
      await page.evaluate(() => { window.__chart = window.Chart.getChart(document.getElementById('cost-chart')); });

      await page.click('a[data-view="usage"]');
      await page.selectOption('#page-size', '25');
      await page.waitForFunction(() => document.querySelectorAll('#usage-table tbody tr').length === 25);
      await page.click('#page-next');
      await page.waitForFunction(() => /Page 2 · 26–50 of 60/.test(document.getElementById('page-label').textContent));
      await page.evaluate(() => { document.querySelector('#usage-table tbody tr').__marked = true; });
      await page.focus('#page-next');
      await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
      const scrollY = await page.evaluate(() => window.scrollY);
      assert.ok(scrollY > 0);
      const updated = await page.textContent('#updated');

      await pushEvents(server, token, 1, 'late');
      await page.clock.fastForward(31_000);
      await page.waitForFunction((before) => document.getElementById('updated').textContent !== before, updated);
      await page.waitForFunction(() => /of 61/.test(document.getElementById('page-label').textContent));

      assert.match(await page.textContent('#page-label'), /^Page 2 · 26–50 of 61$/, 'the page and its rows stay');
      assert.equal(await page.evaluate(() => document.querySelector('#usage-table tbody tr').__marked), true,
        'rows are updated in place, not rebuilt');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'page-next', 'focus stays');
      assert.equal(await page.evaluate(() => window.scrollY), scrollY, 'scroll stays');
      assert.match(await page.innerText('#usage-totals'), /61 requests/);

      await page.click('#page-first');
      await page.waitForFunction(() => /Page 1 · 1–25 of 61/.test(document.getElementById('page-label').textContent));
      assert.match(await page.innerText('#usage-table tbody tr'), /\$0\.001000/);  // the late event, newest first

      await page.click('a[data-view="overview"]');
      await page.waitForFunction(() => /61 requests/.test(document.getElementById('card-30d').textContent));
      assert.equal(await page.evaluate(() => window.Chart.getChart(document.getElementById('cost-chart')) === window.__chart), true);
      assert.deepEqual(await watch.cspViolations(), []);
      assert.deepEqual(watch.problems, []);
      await context.close();
    });

    it('says when the server cannot be reached, keeps what it showed, and recovers', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await signIn(page, server);
      await page.click('a[data-view="usage"]');
      await page.waitForSelector('#usage-table tbody tr');
      const rows = await page.$$eval('#usage-table tbody tr', (trs) => trs.length);

      const { port, dataDir } = server;
      assert.equal(await server.stop({ keepData: true }), 0);
      await page.click('#refresh');
      const banner = page.locator('#banner');
      await banner.waitFor({ state: 'visible' });
      assert.match(await banner.innerText(), /Cannot reach the Cost Guardian server at http:\/\/127\.0\.0\.1:\d+.*check that it is running/);
      assert.match(await banner.innerText(), /Retrying in \d+ s/);
      assert.equal(await page.getAttribute('#banner-text', 'role'), 'alert');
      assert.equal(await page.getAttribute('#banner-countdown', 'role'), null, 'the ticking countdown is not re-announced');
      assert.equal(await page.$$eval('#usage-table tbody tr', (trs) => trs.length), rows, 'the data stays on screen');

      server = await new Server({ port, dataDir }).start();
      await page.click('#banner-retry');
      await banner.waitFor({ state: 'hidden' });
      assert.equal(await page.$$eval('#usage-table tbody tr', (trs) => trs.length), rows);
      await context.close();
    });

    it('sends a stale key back to sign-in with the reason (401)', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await signIn(page, server, { remember: true });
      await page.evaluate((name) => localStorage.setItem(name, 'a-key-that-was-rotated'), KEY_NAME);
      await page.reload();
      const error = page.locator('#signin-error');
      await error.waitFor({ state: 'visible' });
      assert.match(await error.innerText(), /no longer accepts this admin key \(401\)/);
      assert.equal(await page.evaluate((name) => localStorage.getItem(name), KEY_NAME), null, 'the bad key is forgotten');
      assert.equal(await page.isHidden('#app'), true);
      await context.close();
    });
  });

  describe('the rate limit', () => {
    let server;
    // A bucket of 12 that refills one request every 10 s: sign-in and the first refresh fit, the next does not.
    before(async () => { server = await new Server({ env: { RATE_LIMIT_RPM: '6', RATE_LIMIT_BURST: '12' } }).start(); });
    after(async () => stopped(server)());

    it('says what a 429 means and waits as long as the server asks', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await signIn(page, server);
      await page.waitForSelector('#updated:not(:empty)');
      await page.click('#refresh');
      const banner = page.locator('#banner');
      await banner.waitFor({ state: 'visible' });
      const text = await banner.innerText();
      assert.match(text, /Too many requests \(429\)/);
      assert.match(text, /RATE_LIMIT_RPM/);
      const seconds = Number(/Retrying in (\d+) s/.exec(text)[1]);
      assert.ok(seconds >= 10, `waits until the bucket refilled, not one second: ${seconds} s`);
      assert.equal(await page.isVisible('#app'), true, 'a 429 is not a sign-out');
      await context.close();
    });
  });

  describe('small screens and the keyboard', () => {
    let server;
    before(async () => {
      server = await new Server().start();
      const token = (await server.admin('POST', '/ingest/tokens', { body: { label: 'A token with a rather long label' } })).json.token;
      await pushEvents(server, token, 12, 'p');
    });
    after(async () => stopped(server)());

    it('fits a phone-sized screen without sideways scrolling of the page', async () => {
      const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
      const page = await context.newPage();
      const watch = await watchPage(page);
      await signIn(page, server);
      const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      await page.waitForSelector('#breakdown-model tbody tr');
      assert.ok(await overflow() <= 0, `overview overflows by ${await overflow()} px`);
      for (const view of ['usage', 'tokens']) {
        await page.click(`a[data-view="${view}"]`);
        await page.waitForSelector(view === 'usage' ? '#usage-table tbody tr' : '#tokens-table tbody tr');
        assert.ok(await overflow() <= 0, `${view} overflows by ${await overflow()} px`);
        for (const link of await page.$$('.tabs a')) assert.equal(await link.isVisible(), true);
      }
      await page.fill('#new-token-label', 'Phone');
      await page.click('#create-token-submit');
      await page.waitForSelector('#token-dialog[open]');
      const box = await page.locator('#token-dialog').boundingBox();
      assert.ok(box.x >= 0 && box.x + box.width <= 390, `the dialog fits: ${JSON.stringify(box)}`);
      assert.deepEqual(watch.problems, []);
      await context.close();
    });

    it('works with the keyboard alone: sign-in, sections, dialogs that trap and return focus', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${server.url}/dashboard`);
      await page.waitForSelector('#signin-key');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'signin-key');
      await page.keyboard.type(API_KEY);
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'signin-remember');
      await page.keyboard.press('Space');
      assert.equal(await page.isChecked('#signin-remember'), true);
      await page.keyboard.press('Shift+Tab');
      await page.keyboard.press('Enter');  // Enter in the key field submits the form
      await page.waitForSelector('#app:not([hidden])');

      assert.equal(await page.evaluate((name) => localStorage.getItem(name), KEY_NAME), API_KEY);

      // From the top of the page (a click there sets where Tab starts): every control shows where focus is.
      await page.mouse.click(2, 2);
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => Boolean(document.activeElement.closest('.topbar'))), true);
      const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
      assert.notEqual(outline, 'none');

      // Reach "Tracking tokens" by Tab and open it with Enter.
      let onTokens = false;
      for (let i = 0; i < 10 && !onTokens; i += 1) {
        onTokens = await page.evaluate(() => document.activeElement.dataset?.view === 'tokens');
        if (!onTokens) await page.keyboard.press('Tab');
      }
      assert.ok(onTokens, 'the section links are reachable by Tab');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => document.activeElement.id === 'tokens-title', null, { timeout: 5000 });

      await page.focus('#new-token-label');
      await page.keyboard.type('Keyboard');
      await page.keyboard.press('Enter');
      await page.waitForSelector('#token-dialog[open]');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'copy-new-token');
      // Focus stays inside the modal dialog however far one tabs.
      for (let i = 0; i < 12; i += 1) {
        await page.keyboard.press('Tab');
        const inside = await page.evaluate(() => document.getElementById('token-dialog').contains(document.activeElement) || document.activeElement === document.body);
        assert.ok(inside, `Tab ${i + 1} left the dialog`);
      }
      await page.keyboard.press('Escape');
      assert.equal(await page.isVisible('#token-dialog'), false);
      assert.equal(await page.evaluate(() => document.activeElement.id), 'create-token-submit');

      // Buttons are buttons: a token row's actions are reachable and named.
      const names = await page.$$eval('#tokens-table tbody tr:first-child button', (bs) => bs.map((b) => b.getAttribute('aria-label')));
      assert.deepEqual(names, ['Copy the token of A token with a rather long label', 'Deactivate A token with a rather long label',
        'Delete A token with a rather long label']);
      await context.close();
    });
  });
});
