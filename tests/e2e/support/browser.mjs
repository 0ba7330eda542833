// Debian's Chromium (/usr/bin/chromium), driven by playwright-core. playwright-core never downloads a browser.
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CG_CHROMIUM || '/usr/bin/chromium';

export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // No sandbox: CI runs as root, where Chromium's sandbox refuses to start. /dev/shm can be small in containers.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-extensions'],
  });
}

/// Records every Content-Security-Policy violation and uncaught error of the page, so a test can assert none.
export async function watchPage(page) {
  const problems = [];
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective}: ${e.blockedURI}`);
    });
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/status of 4\d\d|Failed to load resource/.test(msg.text()))
      problems.push(`console error: ${msg.text()}`);
  });
  return {
    problems,
    async cspViolations() { return page.evaluate(() => window.__cspViolations); },
  };
}
