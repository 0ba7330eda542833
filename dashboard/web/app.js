// Cost Guardian dashboard: plain modern JavaScript in ES modules, no framework, no inline script (the
// Content-Security-Policy allows only the dashboard's own files). It talks to the same admin API as any script
// does, with the admin key in X-API-Key; the page itself carries no data.
//
// This is the entry module (the page loads it with <script type="module">): it signs in, hands the session the
// screens' loaders and wires the page. The screens are overview.js, usage.js and tokens.js; what they share is
// below them (session.js, filters.js, router.js, api.js, state.js, charts.js, dialogs.js, format.js, dates.js,
// dom.js). Imports only go down that list, never back: dashboard/README.md has the order.
import { $, $$, announce, setText, showFieldError } from './dom.js';
import { api } from './api.js';
import { KEY_NAME, REFRESH_MS, autoRefreshOn, loadKey, loadPrefs, savePrefs, state, storeKey } from './state.js';
import { readHash, showView } from './router.js';
import { planRefresh, refresh, scheduleRefresh, showSignIn, signOut } from './session.js';
import { followCalendar, loadModels, renderTokenOptions, syncFilterInputs, wireFilters } from './filters.js';
import { wireDialogs } from './dialogs.js';
import { overviewLoaders, wireOverview } from './overview.js';
import { usageLoaders, wireUsage } from './usage.js';
import { loadTokens, wireTokens } from './tokens.js';

function signInMessage(e) {
  if (e.kind === 'unauthorized') return 'That admin key is not valid for this server (401). Check API_KEY and try again.';
  if (e.kind === 'offline') return `Cannot reach the server at ${window.location.origin}. Is cost-guardian running?`;
  if (e.kind === 'rate-limited') return `Too many attempts: wait ${e.retryAfter ?? 'a few'} s, then try again.`;
  return `Sign-in failed: ${e.message}`;
}

async function signIn(event) {
  event.preventDefault();
  const input = $('#signin-key');
  const key = input.value.trim();
  const error = $('#signin-error');
  if (!key) {
    showFieldError(input, error, 'Enter the admin key.');
    return;
  }
  const button = $('#signin-submit');
  button.disabled = true;
  setText(button, 'Signing in…');
  try {
    // Any admin route checks the key; this one is also the first thing the app needs.
    const tokens = await api('ingest/tokens', { key });
    const remember = $('#signin-remember').checked;
    storeKey(key, remember);
    state.key = key;
    state.remembered = remember;
    state.tokens = tokens.tokens;
    input.value = '';
    startApp({ announceMessage: 'Signed in.' });
  } catch (e) {
    showFieldError(input, error, signInMessage(e));
    input.select();
  } finally {
    button.disabled = false;
    setText(button, 'Sign in');
  }
}

function startApp({ announceMessage = '' } = {}) {
  $('#signin').hidden = true;
  $('#app').hidden = false;
  for (const el of $$('.tz-name')) setText(el, el.closest('th') ? `(${state.tz})` : state.tz);
  setText($('#key-storage'), state.remembered
    ? 'Admin key remembered on this device until you sign out'
    : 'Admin key kept in this tab only');
  syncFilterInputs();
  $(`#stack-${state.stack}`).checked = true;
  $('#page-size').value = String(state.pageSize);
  showView(state.view);
  renderTokenOptions();
  if (announceMessage) announce(announceMessage);
  $('#main').focus({ preventScroll: true });
  refresh();
}

// Events of the window and the document: the fragment, the tab's visibility, other tabs.
function wireWindow() {
  window.addEventListener('hashchange', () => {
    const view = readHash();
    syncFilterInputs();
    state.cursors = [null];
    state.page = 0;
    showView(view, { focus: true });
    if (state.key) refresh();
  });
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) { window.clearTimeout(state.timer); return; }
    // Back on the tab: refresh at once if what is shown is older than one period.
    if (state.key && autoRefreshOn() &&
        (!state.lastUpdated || Date.now() - state.lastUpdated.getTime() > REFRESH_MS)) refresh();
    else scheduleRefresh();
  });
  // Another tab signed out (or in): follow it.
  window.addEventListener('storage', (e) => {
    if (e.key === KEY_NAME && e.newValue === null && state.key && state.remembered) signOut('Signed out in another tab.');
  });
}

function wire() {
  $('#signin-form').addEventListener('submit', signIn);
  $('#signout').addEventListener('click', () => signOut());
  $('#refresh').addEventListener('click', () => refresh({ userAction: true }));
  $('#banner-retry').addEventListener('click', () => refresh({ userAction: true }));
  $('#auto-refresh').addEventListener('change', () => { savePrefs(); scheduleRefresh(); });
  wireFilters();
  wireOverview();
  wireUsage();
  wireTokens();
  wireDialogs();
  wireWindow();
}

function main() {
  // Every refresh loads the tokens and models (the filters offer them) and then the current section's data.
  planRefresh({
    prepare: followCalendar,
    always: [loadTokens, loadModels],
    views: { overview: overviewLoaders, usage: usageLoaders },
  });
  wire();
  loadPrefs();
  state.view = readHash();
  const stored = loadKey();
  if (!window.Chart) {
    // The chart library is part of this build; if it did not load, everything else still works.
    console.warn('Chart library not loaded');
  }
  if (stored) {
    state.key = stored.key;
    state.remembered = stored.remembered;
    startApp();
  } else {
    showSignIn();
  }
}

main();
