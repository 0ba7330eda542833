// The signed-in session: its refresh cycle, what it does when a refresh fails, and its end (sign-out, back to the
// sign-in form).
//
// How it stays calm while refreshing: every refresh fetches into memory first and then updates the DOM in place —
// rows are matched by id and only changed cells are rewritten, the chart's datasets are replaced without animation
// — so nothing flickers, scroll position, focus, the page of the table and the filters are all kept.
//
// The screens call refresh() and signOut(), so this module cannot import them: app.js hands it the screens' loaders
// once (planRefresh), which keeps the modules' imports one-way (embed.cmake needs that to hash them, leaves first).
import { $, $$, announce, setText } from './dom.js';
import { REFRESH_MS, autoRefreshOn, forgetKey, state } from './state.js';

const plan = { prepare: () => {}, always: [], views: {} };

/// prepare(): runs first, synchronously; always: loaders of every refresh; views: loaders by section. A loader
/// takes an AbortSignal and returns a promise.
export function planRefresh({ prepare, always, views }) {
  Object.assign(plan, { prepare, always, views });
}

function stopTimers() {
  window.clearTimeout(state.timer);
  window.clearTimeout(state.retryTimer);
  window.clearInterval(state.countdown);
  state.timer = state.retryTimer = state.countdown = null;
}

export function scheduleRefresh() {
  window.clearTimeout(state.timer);
  state.timer = null;
  if (!state.key || !autoRefreshOn() || document.hidden) return;
  state.timer = window.setTimeout(() => refresh(), REFRESH_MS);
}

// One refresh: the current section's data and the lists the filters offer. A newer refresh aborts an older one,
// so a slow answer never overwrites a newer one.
export async function refresh({ userAction = false } = {}) {
  if (!state.key) return;
  window.clearTimeout(state.retryTimer);
  state.controller?.abort();
  const controller = new AbortController();
  state.controller = controller;
  const generation = ++state.generation;
  const { signal } = controller;
  document.body.classList.add('busy');
  setText($('#refresh'), 'Refreshing…');

  plan.prepare();
  const loaders = [...plan.always, ...(plan.views[state.view] ?? [])];
  const results = await Promise.allSettled(loaders.map((load) => load(signal)));
  if (generation !== state.generation) return;  // a newer refresh is running

  document.body.classList.remove('busy');
  setText($('#refresh'), 'Refresh');
  const failure = results.find((r) => r.status === 'rejected' && r.reason?.name !== 'AbortError');
  if (failure) {
    handleError(failure.reason);
    return;
  }
  state.failures = 0;
  hideBanner();
  state.lastUpdated = new Date();
  setText($('#updated'), `Updated ${state.lastUpdated.toLocaleTimeString()}`);
  if (userAction) announce('Updated.');
  scheduleRefresh();
}

function handleError(error) {
  if (error.kind === 'unauthorized') {
    signOut('The server no longer accepts this admin key (401): it may have been changed. Sign in with the current API_KEY.');
    return;
  }
  if (error.field === 'tz' && state.tz !== 'UTC') {
    // The browser's zone is not in the server's tz database: fall back to UTC days, and say so in the headers.
    state.tz = 'UTC';
    for (const el of $$('.tz-name')) setText(el, el.closest('th') ? '(UTC)' : 'UTC');
    refresh();
    return;
  }
  if (error.kind === 'invalid' && error.field !== null) {
    // A filter the server refused: say which, keep everything else as it was.
    const box = $('#filters-error');
    box.hidden = false;
    setText(box, `${error.message}. Adjust the filters and apply again.`);
    scheduleRefresh();
    return;
  }
  state.failures += 1;
  const { text, seconds } = bannerFor(error);
  showBanner(text, seconds);
}

// What the banner says about a failed refresh, and how long it waits before trying again.
function bannerFor(error) {
  if (error.kind === 'offline') return {
    seconds: Math.min(60, 5 * 2 ** Math.min(state.failures - 1, 4)),
    text: `Cannot reach the Cost Guardian server at ${window.location.origin}: check that it is running and that this device can reach it. What you see is from ${state.lastUpdated ? state.lastUpdated.toLocaleTimeString() : 'before'}.`,
  };
  if (error.kind === 'rate-limited') return {
    seconds: Math.max(1, error.retryAfter ?? 10),
    text: 'Too many requests (429): the server\'s admin rate limit (RATE_LIMIT_RPM / RATE_LIMIT_BURST) was reached, perhaps by another script using the same key. The dashboard waits as the server asks.',
  };
  if (error.kind === 'unavailable') return {
    seconds: Math.max(1, error.retryAfter ?? 10),
    text: `The server is busy or its storage is unavailable (${error.status}): ${error.message}. If this lasts, check the server's log and /health.`,
  };
  return {
    seconds: 30,
    text: `The server answered ${error.status}: ${error.message}${error.requestId ? ` (request ${error.requestId})` : ''}.`,
  };
}

export function showBanner(text, seconds) {
  const banner = $('#banner');
  window.clearInterval(state.countdown);
  setText($('#banner-text'), text);
  let left = seconds;
  const render = () => setText($('#banner-countdown'), `Retrying in ${left} s.`);
  render();
  banner.hidden = false;
  state.countdown = window.setInterval(() => {
    left -= 1;
    if (left <= 0) window.clearInterval(state.countdown);
    else render();
  }, 1000);
  window.clearTimeout(state.retryTimer);
  state.retryTimer = window.setTimeout(() => refresh(), seconds * 1000);
}

function hideBanner() {
  window.clearInterval(state.countdown);
  $('#banner').hidden = true;
  $('#filters-error').hidden = true;
}

export function showSignIn(message = '') {
  stopTimers();
  state.controller?.abort();
  $('#app').hidden = true;
  $('#signin').hidden = false;
  const error = $('#signin-error');
  error.hidden = !message;
  setText(error, message);
  $('#signin-key').setAttribute('aria-invalid', message ? 'true' : 'false');
  document.title = 'Sign in · Cost Guardian';
  $('#signin-key').focus();
}

export function signOut(message = '') {
  forgetKey();
  state.key = null;
  state.tokens = [];
  // Drop what was shown, so the next person at this screen finds nothing of it in the page.
  for (const body of $$('#app tbody')) body.replaceChildren();
  for (const el of $$('#cards [data-field], #usage-totals [data-field]')) {
    if (el.dataset.field !== 'title') el.textContent = '';
    el.removeAttribute('title');
  }
  for (const el of $$('#new-token-name, #new-token-value, #snippet-curl, #snippet-python, #snippet-node, #usage-summary, #page-label, #updated, #chart-title'))
    el.textContent = '';
  for (const select of $$('#f-model, #f-token')) select.replaceChildren(select.options[0]);
  for (const list of $$('datalist')) list.replaceChildren();
  state.seenProjects.clear();
  state.seenUsers.clear();
  state.expanded.clear();
  state.usageRows = [];
  state.models = [];
  state.chart?.destroy();
  state.chart = null;
  state.cursors = [null];
  state.page = 0;
  showSignIn(message);
  if (!message) announce('Signed out.');
}

// What every screen does when an action (not a refresh) is answered 401.
export function signOutRefused() {
  signOut('The server no longer accepts this admin key (401). Sign in again.');
}
