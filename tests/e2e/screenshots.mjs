// Takes the README's screenshots of the dashboard (docs/screenshots/*.png) with the same browser and server the
// e2e tests use, on a database seeded with 45 days of made-up usage. Not a test: run it by hand after a visible
// change, and commit the pictures.
//   node tests/e2e/screenshots.mjs            (CG_BINARY defaults to build/dev/cost-guardian)
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { launch } from './support/browser.mjs';
import { seed } from './support/seed.mjs';
import { API_KEY, Server } from './support/server.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const out = join(root, 'docs', 'screenshots');
mkdirSync(out, { recursive: true });

const server = await new Server({ binary: process.env.CG_BINARY || join(root, 'build', 'dev', 'cost-guardian') }).start();
const browser = await launch();
try {
  await seed(server);

  async function signedIn(options) {
    const context = await browser.newContext({ locale: 'en-US', timezoneId: 'Europe/Berlin', ...options });
    const page = await context.newPage();
    await page.goto(`${server.url}/dashboard`);
    await page.fill('#signin-key', API_KEY);
    await page.click('#signin-submit');
    await page.waitForSelector('#breakdown-user tbody tr');
    await page.waitForTimeout(600);  // the chart's first animation
    return { context, page };
  }

  {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
    const page = await context.newPage();
    await page.goto(`${server.url}/dashboard`);
    await page.fill('#signin-key', 'a wrong key');
    await page.click('#signin-submit');
    await page.waitForSelector('#signin-error:not([hidden])');
    await page.screenshot({ path: join(out, 'sign-in.png') });
    await context.close();
  }

  {
    const { context, page } = await signedIn({ viewport: { width: 1280, height: 800 } });
    await page.screenshot({ path: join(out, 'overview.png'), fullPage: true });
    await page.click('a[data-view="usage"]');
    await page.selectOption('#page-size', '25');
    await page.waitForFunction(() => document.querySelectorAll('#usage-table tbody tr').length === 25);
    await page.screenshot({ path: join(out, 'usage.png'), fullPage: true });
    await page.click('a[data-view="tokens"]');
    await page.waitForSelector('#tokens-table tbody tr');
    await page.fill('#new-token-label', 'Checkout service');
    await page.click('#create-token-submit');
    await page.waitForSelector('#token-dialog[open]');
    await page.click('#tab-python');
    await page.screenshot({ path: join(out, 'tokens.png') });
    await context.close();
  }

  {
    const { context, page } = await signedIn({ viewport: { width: 1280, height: 800 }, colorScheme: 'dark' });
    await page.screenshot({ path: join(out, 'overview-dark.png') });
    await context.close();
  }

  {
    const { context, page } = await signedIn({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    await page.screenshot({ path: join(out, 'phone.png') });
    await context.close();
  }
  console.log(`screenshots in ${out}`);
} finally {
  await browser.close();
  await server.stop();
}
