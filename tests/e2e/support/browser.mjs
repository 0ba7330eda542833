// Debian's Chromium (/usr/bin/chromium), driven by playwright-core. playwright-core never downloads a browser.
import { existsSync } from 'node:fs';

export const CHROMIUM = process.env.CG_CHROMIUM || '/usr/bin/chromium';

export async function launch() {
  // Imported here, not at the top, to fail with the fix rather than a module-resolution trace.
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (error) {
    throw new Error(`playwright-core is not installed in tests/e2e: run scripts/setup.sh --test (${error.message})`);
  }
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/setup.sh --test (Debian's chromium)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // No sandbox: CI runs as root, where Chromium's sandbox refuses to start. /dev/shm can be small in containers.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-extensions'],
  });
}

/// Records every Content-Security-Policy violation, uncaught error and console error of the page (across
/// navigations and reloads), so a test can assert there were none.
export async function watchPage(page) {
  const problems = [];
  const violations = [];
  await page.exposeFunction('__cgReportCspViolation', (text) => { violations.push(text); });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cgReportCspViolation(`${e.violatedDirective}: ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (msg) => {
    // Failed requests the test provokes on purpose (401, 429, a stopped server) are logged by Chromium itself.
    if (msg.type() === 'error' && !/Failed to load resource|net::ERR_/.test(msg.text()))
      problems.push(`console error: ${msg.text()}`);
  });
  return {
    problems,
    async cspViolations() { return [...violations]; },
  };
}
