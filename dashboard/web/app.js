// Cost Guardian dashboard: plain modern JavaScript, no framework, no inline script (the Content-Security-Policy
// allows only this file and the chart library). It talks to the same admin API as any script does, with the admin
// key in X-API-Key; the page itself carries no data.
//
// How it stays calm while refreshing: every refresh fetches into memory first and then updates the DOM in place —
// rows are matched by id and only changed cells are rewritten, the chart's datasets are replaced without animation
// — so nothing flickers, scroll position, focus, the page of the table and the filters are all kept.
'use strict';

(() => {
  const REFRESH_MS = 30_000;
  const KEY_NAME = 'cost-guardian.admin-key';
  const PREFS_NAME = 'cost-guardian.prefs';
  const NANO = 1_000_000_000n;

  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

  // ---- state ---------------------------------------------------------------------------------------------------

  const state = {
    key: null,
    remembered: false,
    view: 'overview',
    tz: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC',
    filters: { range: '30d', start: '', end: '', model: '', token: '', project: '', user: '' },
    stack: 'model',
    pageSize: 50,
    cursors: [null],       // cursors[i] fetched page i; cursors[0] is the newest page
    page: 0,
    nextCursor: null,
    pageRows: 0,
    totals: null,
    tokens: [],
    models: [],
    generation: 0,
    controller: null,
    timer: null,
    retryTimer: null,
    countdown: null,
    failures: 0,
    lastUpdated: null,
    seenProjects: new Set(),
    seenUsers: new Set(),
    expanded: new Set(),   // ids of usage rows whose details are open
    usageRows: [],
  };

  // ---- small helpers -------------------------------------------------------------------------------------------

  function setText(el, text) {
    if (el && el.textContent !== text) el.textContent = text;
  }

  function setTitle(el, text) {
    if (el && el.title !== text) el.title = text;
  }

  function announce(message) {
    const status = $('#status');
    // Re-setting the same text is not announced again: clear first.
    status.textContent = '';
    window.setTimeout(() => { status.textContent = message; }, 30);
  }

  const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  const compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });

  function formatInt(n) { return integer.format(n); }

  function formatTokens(n) {
    return n >= 100_000 ? `${compact.format(n)} tokens` : `${integer.format(n)} tokens`;
  }

  function formatRequests(n) { return `${integer.format(n)} ${n === 1 ? 'request' : 'requests'}`; }

  // Money arrives as exact decimal strings ("0.000390000"); sums stay exact in BigInt nano-USD, and only the
  // display rounds: dollars and cents from $1, four decimals from a cent, three significant digits below.
  function toNano(exact) {
    if (exact === null || exact === undefined || exact === '') return 0n;
    const text = String(exact);
    const negative = text.startsWith('-');
    const [whole, fraction = ''] = (negative ? text.slice(1) : text).split('.');
    const nano = BigInt(whole || '0') * NANO + BigInt((fraction + '000000000').slice(0, 9));
    return negative ? -nano : nano;
  }

  function roundTo(nano, decimals) {
    const unit = 10n ** BigInt(9 - decimals);
    const rounded = (nano + unit / 2n) / unit;
    return rounded;
  }

  function formatUsd(nano) {
    if (nano < 0n) return `-${formatUsd(-nano)}`;
    if (nano === 0n) return '$0.00';
    let decimals;
    if (nano >= NANO) decimals = 2;
    else if (nano >= NANO / 100n) decimals = 4;
    else {
      const digits = nano.toString().length;  // nano < 10^7 here: 9 - digits leading zeros after the point
      decimals = Math.min(9, 9 - digits + 3);
    }
    const scaled = roundTo(nano, decimals);
    const unit = 10n ** BigInt(decimals);
    const whole = scaled / unit;
    let fraction = (scaled % unit).toString().padStart(decimals, '0');
    if (nano < NANO / 100n) fraction = fraction.replace(/0+$/, '');
    const wholeText = integer.format(whole);
    return fraction ? `$${wholeText}.${fraction}` : `$${wholeText}`;
  }

  // For a column of single events: the same six decimals on every row, so the amounts line up and compare at a
  // glance (the exact nine-decimal value is in the cell's title).
  function formatUsdFixed(nano, decimals = 6) {
    const negative = nano < 0n;
    const scaled = roundTo(negative ? -nano : nano, decimals);
    const unit = 10n ** BigInt(decimals);
    return `${negative ? '-' : ''}$${integer.format(scaled / unit)}.${(scaled % unit).toString().padStart(decimals, '0')}`;
  }

  function exactUsd(nano) {
    const negative = nano < 0n;
    const abs = negative ? -nano : nano;
    return `${negative ? '-' : ''}$${abs / NANO}.${(abs % NANO).toString().padStart(9, '0')}`;
  }

  function pad(n) { return String(n).padStart(2, '0'); }

  // Dates are local calendar days of the browser: the API reads them in `tz`.
  function isoDate(d) { return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`; }

  function parseDate(text) {
    const [y, m, d] = text.split('-').map(Number);
    return new Date(y, m - 1, d);
  }

  function addDays(d, n) { const c = new Date(d); c.setDate(c.getDate() + n); return c; }

  function daysBetween(startText, endText) {
    const days = [];
    for (let d = parseDate(startText), end = parseDate(endText); d <= end && days.length < 3700; d = addDays(d, 1))
      days.push(isoDate(d));
    return days;
  }

  function localTime(iso) {
    const d = new Date(iso);
    return `${isoDate(d)} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  function ago(iso) {
    const seconds = (Date.parse(iso) - Date.now()) / 1000;
    const abs = Math.abs(seconds);
    if (abs < 45) return 'just now';
    if (abs < 3600) return relative.format(Math.round(seconds / 60), 'minute');
    if (abs < 86400) return relative.format(Math.round(seconds / 3600), 'hour');
    return relative.format(Math.round(seconds / 86400), 'day');
  }

  function monthName(d) { return d.toLocaleDateString(undefined, { month: 'long' }); }

  function rangeFor(range, today = new Date()) {
    const end = isoDate(today);
    switch (range) {
      case '7d': return { start: isoDate(addDays(today, -6)), end };
      case '90d': return { start: isoDate(addDays(today, -89)), end };
      case 'month': return { start: isoDate(new Date(today.getFullYear(), today.getMonth(), 1)), end };
      case 'prev-month': return {
        start: isoDate(new Date(today.getFullYear(), today.getMonth() - 1, 1)),
        end: isoDate(new Date(today.getFullYear(), today.getMonth(), 0)),
      };
      default: return { start: isoDate(addDays(today, -29)), end };
    }
  }

  // ---- storage of the key and preferences ------------------------------------------------------------------------

  // The key lives in sessionStorage (this tab, until it closes) unless the user asked to be remembered on this
  // device (localStorage, until sign-out). Never in a cookie: the API authenticates with headers only, so a cookie
  // would add nothing but cross-site request risk.
  function loadKey() {
    try {
      const local = window.localStorage.getItem(KEY_NAME);
      if (local) return { key: local, remembered: true };
      const session = window.sessionStorage.getItem(KEY_NAME);
      if (session) return { key: session, remembered: false };
    } catch { /* storage disabled: sign in every time */ }
    return null;
  }

  function storeKey(key, remember) {
    try {
      window.localStorage.removeItem(KEY_NAME);
      window.sessionStorage.removeItem(KEY_NAME);
      (remember ? window.localStorage : window.sessionStorage).setItem(KEY_NAME, key);
    } catch { /* storage disabled: the key lives in memory for this page only */ }
  }

  function forgetKey() {
    try {
      window.localStorage.removeItem(KEY_NAME);
      window.sessionStorage.removeItem(KEY_NAME);
    } catch { /* nothing stored */ }
  }

  function loadPrefs() {
    try {
      const prefs = JSON.parse(window.localStorage.getItem(PREFS_NAME) || '{}');
      if (prefs.stack === 'token' || prefs.stack === 'model') state.stack = prefs.stack;
      if ([25, 50, 100, 250].includes(prefs.pageSize)) state.pageSize = prefs.pageSize;
      if (typeof prefs.autoRefresh === 'boolean') $('#auto-refresh').checked = prefs.autoRefresh;
    } catch { /* defaults */ }
  }

  function savePrefs() {
    try {
      window.localStorage.setItem(PREFS_NAME, JSON.stringify({
        stack: state.stack, pageSize: state.pageSize, autoRefresh: $('#auto-refresh').checked,
      }));
    } catch { /* not kept */ }
  }

  // ---- the API ---------------------------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(kind, status, message, { retryAfter = null, field = null, requestId = null } = {}) {
      super(message);
      this.kind = kind;           // offline | unauthorized | rate-limited | unavailable | invalid | failed
      this.status = status;
      this.retryAfter = retryAfter;
      this.field = field;
      this.requestId = requestId;
    }
  }

  function query(params) {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(params))
      if (value !== '' && value !== null && value !== undefined) search.set(name, String(value));
    const text = search.toString();
    return text ? `?${text}` : '';
  }

  // Relative URLs: the API lives beside /dashboard, also behind a proxy that adds a path prefix.
  async function api(path, { method = 'GET', body, signal, key = state.key, raw = false } = {}) {
    const headers = { 'X-API-Key': key, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await fetch(path, {
        method, headers, signal, cache: 'no-store', credentials: 'omit',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      if (error.name === 'AbortError') throw error;
      throw new ApiError('offline', 0, 'The server cannot be reached.');
    }
    if (response.ok) return raw ? response : response.json();
    let info = {};
    try { info = await response.json(); } catch { /* not JSON: a proxy's page */ }
    let retryAfter = Number.parseInt(response.headers.get('Retry-After') || '', 10);
    // Rate limited: a refresh makes several calls at once, so waiting only until one more call passes (Retry-After)
    // would fail again; wait until the bucket is full (RateLimit-Reset), within reason.
    const reset = Number.parseInt(response.headers.get('RateLimit-Reset') || '', 10);
    if (response.status === 429 && Number.isFinite(reset)) retryAfter = Math.min(Math.max(retryAfter || 0, reset), 300);
    const options = {
      retryAfter: Number.isFinite(retryAfter) ? retryAfter : null,
      field: info.field ?? null,
      requestId: info.request_id || response.headers.get('X-Request-Id'),
    };
    const message = info.error || info.message || `${response.status} ${response.statusText}`;
    const kind = response.status === 401 ? 'unauthorized'
      : response.status === 429 ? 'rate-limited'
        : response.status === 503 || response.status === 502 || response.status === 504 ? 'unavailable'
          : response.status === 400 || response.status === 409 || response.status === 404 ? 'invalid'
            : 'failed';
    throw new ApiError(kind, response.status, message, options);
  }

  // The filters as the API names them; the same for /costs, /data and /export.csv.
  function filterParams() {
    const f = state.filters;
    return {
      start: f.start, end: f.end, tz: state.tz, model: f.model, ingest_token_id: f.token,
      project: f.project, user: f.user,
    };
  }

  // ---- views and navigation --------------------------------------------------------------------------------------

  const VIEWS = ['overview', 'usage', 'tokens'];
  const TITLES = { overview: 'Overview', usage: 'Usage', tokens: 'Tracking tokens' };

  const RANGES = ['7d', '30d', '90d', 'month', 'prev-month', 'custom'];

  // The section and the filters live in the URL's fragment (#usage?range=custom&start=…&model=…), so a reload, a
  // bookmark or a link to a colleague shows the same thing.
  function readHash() {
    const [view, search = ''] = window.location.hash.replace(/^#/, '').split('?');
    const params = new URLSearchParams(search);
    const f = state.filters;
    const range = params.get('range');
    f.range = RANGES.includes(range) ? range : params.get('start') && params.get('end') ? 'custom' : '30d';
    for (const name of ['start', 'end', 'model', 'token', 'project', 'user']) f[name] = params.get(name) || '';
    const datePattern = /^\d{4}-\d\d-\d\d$/;
    if (f.range === 'custom' && !(datePattern.test(f.start) && datePattern.test(f.end) && f.start <= f.end)) f.range = '30d';
    if (f.range !== 'custom') Object.assign(f, rangeFor(f.range));
    return VIEWS.includes(view) ? view : 'overview';
  }

  function writeHash() {
    const f = state.filters;
    const params = new URLSearchParams();
    params.set('range', f.range);
    if (f.range === 'custom') { params.set('start', f.start); params.set('end', f.end); }
    for (const name of ['model', 'token', 'project', 'user']) if (f[name]) params.set(name, f[name]);
    const hash = `#${state.view}?${params}`;
    if (window.location.hash !== hash) window.history.replaceState(null, '', hash);
  }

  function showView(view, { focus = false } = {}) {
    state.view = view;
    for (const link of $$('.tabs a')) {
      if (link.dataset.view === view) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
      // Links keep the filters when switching sections.
    }
    $('#view-overview').hidden = view !== 'overview';
    $('#view-overview-charts').hidden = view !== 'overview';
    $('#filters-section').hidden = view === 'tokens';
    $('#view-usage').hidden = view !== 'usage';
    $('#view-tokens').hidden = view !== 'tokens';
    document.title = `${TITLES[view]} · Cost Guardian`;
    writeHash();
    updateNavLinks();
    if (focus) $(`#${view}-title`)?.focus();
  }

  function updateNavLinks() {
    const search = window.location.hash.includes('?') ? window.location.hash.slice(window.location.hash.indexOf('?')) : '';
    for (const link of $$('.tabs a')) link.setAttribute('href', `#${link.dataset.view}${search}`);
  }

  // ---- sign-in ---------------------------------------------------------------------------------------------------

  function showSignIn(message = '') {
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

  async function signIn(event) {
    event.preventDefault();
    const input = $('#signin-key');
    const key = input.value.trim();
    const error = $('#signin-error');
    if (!key) {
      error.hidden = false;
      setText(error, 'Enter the admin key.');
      input.setAttribute('aria-invalid', 'true');
      input.focus();
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
      let message;
      if (e.kind === 'unauthorized') message = 'That admin key is not valid for this server (401). Check API_KEY and try again.';
      else if (e.kind === 'offline') message = `Cannot reach the server at ${window.location.origin}. Is cost-guardian running?`;
      else if (e.kind === 'rate-limited') message = `Too many attempts: wait ${e.retryAfter ?? 'a few'} s, then try again.`;
      else message = `Sign-in failed: ${e.message}`;
      error.hidden = false;
      setText(error, message);
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      input.select();
    } finally {
      button.disabled = false;
      setText(button, 'Sign in');
    }
  }

  function signOut(message = '') {
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

  // ---- refresh cycle ---------------------------------------------------------------------------------------------

  function stopTimers() {
    window.clearTimeout(state.timer);
    window.clearTimeout(state.retryTimer);
    window.clearInterval(state.countdown);
    state.timer = state.retryTimer = state.countdown = null;
  }

  function scheduleRefresh() {
    window.clearTimeout(state.timer);
    state.timer = null;
    if (!state.key || !$('#auto-refresh').checked || document.hidden) return;
    state.timer = window.setTimeout(() => refresh(), REFRESH_MS);
  }

  // One refresh: the current section's data and the lists the filters offer. A newer refresh aborts an older one,
  // so a slow answer never overwrites a newer one.
  async function refresh({ userAction = false } = {}) {
    if (!state.key) return;
    window.clearTimeout(state.retryTimer);
    state.controller?.abort();
    const controller = new AbortController();
    state.controller = controller;
    const generation = ++state.generation;
    const { signal } = controller;
    document.body.classList.add('busy');
    setText($('#refresh'), 'Refreshing…');

    if (state.filters.range !== 'custom') {
      Object.assign(state.filters, rangeFor(state.filters.range));
      syncFilterInputs();
    }

    const tasks = [loadTokens(signal), loadModels(signal)];
    if (state.view === 'overview') tasks.push(loadOverview(signal), loadChart(signal), loadBreakdowns(signal));
    if (state.view === 'usage') tasks.push(loadUsage(signal));
    const results = await Promise.allSettled(tasks);
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
    let seconds;
    let text;
    if (error.kind === 'offline') {
      seconds = Math.min(60, 5 * 2 ** Math.min(state.failures - 1, 4));
      text = `Cannot reach the Cost Guardian server at ${window.location.origin}: check that it is running and that this device can reach it. What you see is from ${state.lastUpdated ? state.lastUpdated.toLocaleTimeString() : 'before'}.`;
    } else if (error.kind === 'rate-limited') {
      seconds = Math.max(1, error.retryAfter ?? 10);
      text = 'Too many requests (429): the server\'s admin rate limit (RATE_LIMIT_RPM / RATE_LIMIT_BURST) was reached, perhaps by another script using the same key. The dashboard waits as the server asks.';
    } else if (error.kind === 'unavailable') {
      seconds = Math.max(1, error.retryAfter ?? 10);
      text = `The server is busy or its storage is unavailable (${error.status}): ${error.message}. If this lasts, check the server's log and /health.`;
    } else {
      seconds = 30;
      text = `The server answered ${error.status}: ${error.message}${error.requestId ? ` (request ${error.requestId})` : ''}.`;
    }
    showBanner(text, seconds);
  }

  function showBanner(text, seconds) {
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

  // ---- lists: tokens and models ----------------------------------------------------------------------------------

  async function loadTokens(signal) {
    const body = await api('ingest/tokens', { signal });
    if (signal.aborted) return;
    state.tokens = body.tokens;
    renderTokenOptions();
    renderTokens();
  }

  async function loadModels(signal) {
    const body = await api('models', { signal });
    if (signal.aborted) return;
    state.models = body.models;
    renderModelOptions();
  }

  // Rebuilds a <select>'s options only when they changed, keeping the selection (also one no longer listed).
  function syncOptions(select, options, selected) {
    const wanted = [...options];
    if (selected && !wanted.some(([value]) => value === selected)) wanted.push([selected, `${selected} (not listed)`]);
    const current = Array.from(select.options).slice(1).map((o) => [o.value, o.textContent]);
    if (JSON.stringify(current) !== JSON.stringify(wanted)) {
      const first = select.options[0];
      select.replaceChildren(first, ...wanted.map(([value, label]) => new Option(label, value)));
    }
    select.value = selected;
  }

  function renderModelOptions() {
    syncOptions($('#f-model'), state.models.map((m) => [m, m]), state.filters.model);
  }

  function renderTokenOptions() {
    syncOptions($('#f-token'), state.tokens.map((t) => [String(t.id), t.active ? t.label : `${t.label} (inactive)`]),
      state.filters.token);
  }

  function syncDatalist(list, values) {
    const sorted = [...values].sort();
    const current = Array.from(list.options).map((o) => o.value);
    if (JSON.stringify(current) !== JSON.stringify(sorted))
      list.replaceChildren(...sorted.map((v) => new Option(v, v)));
  }

  // ---- overview cards --------------------------------------------------------------------------------------------

  async function loadOverview(signal) {
    const today = new Date();
    const todayText = isoDate(today);
    const monthStart = new Date(today.getFullYear(), today.getMonth(), 1);
    const prevMonthStart = new Date(today.getFullYear(), today.getMonth() - 1, 1);
    const prevMonthEnd = new Date(today.getFullYear(), today.getMonth(), 0);
    const thirtyAgo = addDays(today, -29);
    const start = prevMonthStart < thirtyAgo ? prevMonthStart : thirtyAgo;
    // One report by local day covers every card: today, 7 and 30 days, this month and the previous one.
    const report = await api(`costs${query({ group_by: 'day', start: isoDate(start), end: todayText, tz: state.tz })}`, { signal });
    if (signal.aborted) return;
    const sum = (from, to) => {
      const total = { cost: 0n, requests: 0, tokens: 0 };
      for (const row of report.rows) {
        if (row.day < from || row.day > to) continue;
        total.cost += toNano(row.cost_usd_exact);
        total.requests += row.requests;
        total.tokens += row.total_tokens;
      }
      return total;
    };
    const samePrevDay = Math.min(today.getDate(), prevMonthEnd.getDate());
    const figures = {
      today: sum(todayText, todayText),
      '7d': sum(isoDate(addDays(today, -6)), todayText),
      '30d': sum(isoDate(thirtyAgo), todayText),
      month: sum(isoDate(monthStart), todayText),
    };
    const prevWhole = sum(isoDate(prevMonthStart), isoDate(prevMonthEnd));
    const prevSoFar = sum(isoDate(prevMonthStart), isoDate(new Date(prevMonthStart.getFullYear(), prevMonthStart.getMonth(), samePrevDay)));
    for (const [id, total] of Object.entries(figures)) {
      const card = $(`#card-${id}`);
      setText($('[data-field="cost"]', card), formatUsd(total.cost));
      setTitle($('[data-field="cost"]', card), exactUsd(total.cost));
      setText($('[data-field="requests"]', card), formatRequests(total.requests));
      setText($('[data-field="tokens"]', card), formatTokens(total.tokens));
    }
    const month = $('#card-month');
    setText($('[data-field="title"]', month), `This month (${monthName(today)})`);
    const delta = $('[data-field="delta"]', month);
    const compare = $('[data-field="compare"]', month);
    if (prevSoFar.cost > 0n) {
      const change = Number((figures.month.cost - prevSoFar.cost) * 1000n / prevSoFar.cost) / 10;
      setText(delta, `${change >= 0 ? '▲' : '▼'} ${Math.abs(change).toFixed(Math.abs(change) < 10 ? 1 : 0)}%`);
      delta.className = `delta ${change > 0 ? 'up' : change < 0 ? 'down' : ''}`;
      setText(compare, `vs ${monthName(prevMonthStart)} 1–${samePrevDay} (${formatUsd(prevSoFar.cost)}); ${monthName(prevMonthStart)} in all: ${formatUsd(prevWhole.cost)}`);
    } else {
      setText(delta, '');
      delta.className = 'delta';
      setText(compare, prevWhole.cost > 0n
        ? `${monthName(prevMonthStart)} in all: ${formatUsd(prevWhole.cost)}`
        : `No spend in ${monthName(prevMonthStart)} to compare with`);
    }
  }

  // ---- chart -----------------------------------------------------------------------------------------------------

  const PALETTE = ['#4f46e5', '#0ea5e9', '#f59e0b', '#10b981', '#ec4899', '#8b5cf6', '#ef4444', '#14b8a6', '#94a3b8'];
  const MAX_SERIES = 8;  // the largest eight by cost, the rest as "Other": a legend people can read

  function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

  function ensureChart() {
    if (state.chart || !window.Chart) return state.chart;
    const canvas = $('#cost-chart');
    const text = cssVar('--muted');
    const grid = cssVar('--border');
    state.chart = new window.Chart(canvas, {
      type: 'bar',
      data: { labels: [], datasets: [] },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: { duration: 250 },
        interaction: { mode: 'index', intersect: false },
        scales: {
          x: { stacked: true, ticks: { color: text, maxRotation: 0, autoSkipPadding: 12 }, grid: { display: false } },
          y: {
            stacked: true, beginAtZero: true, grid: { color: grid },
            ticks: { color: text, callback: (v) => formatUsd(BigInt(Math.round(Number(v) * 1e9))) },
          },
        },
        plugins: {
          legend: { position: 'bottom', labels: { color: text, boxWidth: 12, boxHeight: 12 } },
          tooltip: {
            filter: (item) => item.raw > 0,
            callbacks: {
              title: (items) => items.length ? parseDate(items[0].label).toLocaleDateString(undefined, { weekday: 'short', year: 'numeric', month: 'short', day: 'numeric' }) : '',
              label: (item) => ` ${item.dataset.label}: ${formatUsd(item.dataset.nano[item.dataIndex])}`,
              footer: (items) => `Total: ${formatUsd(items.reduce((s, i) => s + i.dataset.nano[i.dataIndex], 0n))}`,
            },
          },
        },
      },
    });
    return state.chart;
  }

  async function loadChart(signal) {
    const dimension = state.stack;
    const report = await api(`costs${query({ group_by: `day,${dimension}`, ...filterParams() })}`, { signal });
    if (signal.aborted) return;
    const days = daysBetween(state.filters.start, state.filters.end);
    const index = new Map(days.map((d, i) => [d, i]));
    const series = new Map();  // key -> {label, nano[], total}
    for (const row of report.rows) {
      const key = dimension === 'model' ? (row.model ?? '') : String(row.ingest_token_id ?? '');
      const label = dimension === 'model' ? (row.model || '(no model)') : (row.token_label || '(no token)');
      if (!series.has(key)) series.set(key, { key, label, nano: days.map(() => 0n), total: 0n });
      const s = series.get(key);
      const i = index.get(row.day);
      const nano = toNano(row.cost_usd_exact);
      if (i !== undefined) s.nano[i] += nano;
      s.total += nano;
    }
    let list = [...series.values()].sort((a, b) => (b.total > a.total ? 1 : b.total < a.total ? -1 : a.label.localeCompare(b.label)));
    if (list.length > MAX_SERIES) {
      const rest = list.slice(MAX_SERIES - 1);
      const other = { key: '\u0000other', label: `Other (${rest.length})`, nano: days.map(() => 0n), total: 0n };
      for (const s of rest) { s.nano.forEach((n, i) => { other.nano[i] += n; }); other.total += s.total; }
      list = [...list.slice(0, MAX_SERIES - 1), other];
    }
    const total = list.reduce((sum, s) => sum + s.total, 0n);
    const chart = ensureChart();
    $('#chart-empty').hidden = report.rows.length > 0;
    setText($('#chart-title'), `Daily cost · ${formatUsd(total)}`);
    $('#cost-chart').setAttribute('aria-label',
      `Daily cost from ${state.filters.start} to ${state.filters.end}, stacked by ${dimension === 'model' ? 'model' : 'tracking token'}: ${formatUsd(total)} in all` +
      (list.length ? `; largest: ${list.slice(0, 3).map((s) => `${s.label} ${formatUsd(s.total)}`).join(', ')}.` : '.'));
    if (!chart) return;
    // Replace the data in place: the chart keeps its size and legend state and does not re-animate from zero.
    const previous = new Map(chart.data.datasets.map((d) => [d.key, d]));
    chart.data.labels = days;
    chart.options.scales.x.ticks.callback = function tick(value) {
      return parseDate(days[value]).toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
    };
    chart.data.datasets = list.map((s, i) => {
      const d = previous.get(s.key) || { key: s.key };
      d.label = s.label;
      d.nano = s.nano;
      d.data = s.nano.map((n) => Number(n) / 1e9);
      d.backgroundColor = PALETTE[i % PALETTE.length];
      d.borderRadius = 3;
      d.maxBarThickness = 38;
      return d;
    });
    chart.update(previous.size ? 'none' : undefined);
  }

  // ---- breakdowns ------------------------------------------------------------------------------------------------

  async function loadBreakdowns(signal) {
    const dims = ['model', 'token', 'project', 'user'];
    const reports = await Promise.all(dims.map((d) => api(`costs${query({ group_by: d, ...filterParams() })}`, { signal })));
    if (signal.aborted) return;
    dims.forEach((dim, i) => renderBreakdown(dim, reports[i]));
  }

  function renderBreakdown(dim, report) {
    const card = $(`#breakdown-${dim}`);
    const total = toNano(report.totals?.cost_usd_exact);
    const rows = report.rows.map((row) => {
      let key; let label;
      if (dim === 'token') { key = String(row.ingest_token_id ?? ''); label = row.token_label || '(no token)'; }
      else { key = row[dim] ?? '\u0000none'; label = row[dim] ?? `(no ${dim})`; }
      if (dim === 'project' && row.project) state.seenProjects.add(row.project);
      if (dim === 'user' && row.user) state.seenUsers.add(row.user);
      return { key, label, none: row[dim === 'token' ? 'ingest_token_id' : dim] == null, row, nano: toNano(row.cost_usd_exact) };
    }).sort((a, b) => (b.nano > a.nano ? 1 : b.nano < a.nano ? -1 : a.label.localeCompare(b.label)));
    if (dim === 'project') syncDatalist($('#project-options'), state.seenProjects);
    if (dim === 'user') syncDatalist($('#user-options'), state.seenUsers);
    $('.empty', card).hidden = rows.length > 0;
    $('.table-wrap', card).hidden = rows.length === 0;
    reconcile($('tbody', card), rows, (r) => r.key, () => {
      const tr = document.createElement('tr');
      tr.innerHTML = '<td><button type="button" class="drill"></button><span class="label none"></span><span class="share" aria-hidden="true"></span></td><td class="num"></td><td class="num"></td><td class="num"></td>';
      return tr;
    }, (tr, r) => {
      const [name, requests, tokens, cost] = tr.cells;
      // A name is a button that filters everything by it; "(no project)" cannot be filtered on (an empty filter
      // value means no filter), so it stays text.
      const drill = $('.drill', name);
      const label = $('.label', name);
      drill.hidden = r.none;
      label.hidden = !r.none;
      setText(r.none ? label : drill, r.label);
      drill.dataset.value = dim === 'token' ? String(r.row.ingest_token_id) : r.key;
      drill.setAttribute('aria-label', `Show only ${dim === 'token' ? 'tracking token' : dim} ${r.label}`);
      const share = total > 0n ? Number(r.nano * 10000n / total) / 100 : 0;
      $('.share', name).style.setProperty('--share', `${share}%`);
      setTitle(name, `${r.label}: ${share.toFixed(1)}% of the cost`);
      setText(requests, formatInt(r.row.requests));
      setText(tokens, formatInt(r.row.total_tokens));
      setText(cost, formatUsd(r.nano));
      setTitle(cost, exactUsd(r.nano));
    });
  }

  // Keeps a tbody's rows in the order of `items`, reusing the row of each key: unchanged rows are not touched, so
  // a refresh neither flickers nor moves focus or scroll.
  function reconcile(tbody, items, keyOf, create, update) {
    const existing = new Map();
    for (const tr of Array.from(tbody.rows)) existing.set(tr.dataset.key, tr);
    let previous = null;
    for (const item of items) {
      const key = String(keyOf(item));
      let tr = existing.get(key);
      if (tr) existing.delete(key);
      else { tr = create(item); tr.dataset.key = key; }
      update(tr, item);
      const expected = previous ? previous.nextElementSibling : tbody.firstElementChild;
      if (expected !== tr) tbody.insertBefore(tr, expected);
      previous = tr;
    }
    for (const tr of existing.values()) tr.remove();
  }

  // ---- usage table -----------------------------------------------------------------------------------------------

  async function loadUsage(signal) {
    const cursor = state.cursors[state.page];
    const [page, totals] = await Promise.all([
      api(`data${query({ ...filterParams(), limit: state.pageSize, cursor })}`, { signal }),
      // The totals row: the same filters through /costs, exact, for every page.
      api(`costs${query(filterParams())}`, { signal }),
    ]);
    if (signal.aborted) return;
    state.nextCursor = page.next_cursor;
    state.pageRows = page.data.length;
    state.totals = totals.totals;
    renderUsage(page.data);
  }

  // Every stored field of an event, for the row's details (keyboard users get here, where tooltips cannot).
  function eventDetails(r) {
    const nano = toNano(r.cost_usd_exact);
    const rows = [
      ['Time', `${localTime(r.timestamp)} (${state.tz}) · ${r.timestamp} UTC`],
      ['Received', r.received_at],
      ['Event id', r.event_id],
      ['Provider', r.provider],
      ['Cost', `${exactUsd(nano)} · ${r.cost_source}${r.price_ref ? ` (${r.price_ref})` : ''}`],
      ['Cache read / write tokens', `${formatInt(r.cache_read_tokens)} / ${formatInt(r.cache_write_tokens)}`],
      ['Reasoning tokens', formatInt(r.reasoning_tokens)],
      ['Session', [r.session_id, r.session_type].filter(Boolean).join(' · ')],
      ['Feature', r.feature],
      ['Environment', r.environment],
      ['Source', r.source],
      ['Meta', r.meta == null ? '' : JSON.stringify(r.meta, null, 2)],
    ];
    return rows.filter(([, value]) => value !== null && value !== undefined && value !== '');
  }

  function renderUsage(rows) {
    const tbody = $('#usage-table tbody');
    // An opened row is followed by its details row; both are keyed, so a refresh keeps them open and in place.
    const items = rows.flatMap((r) => (state.expanded.has(r.id) ? [r, { details: r }] : [r]));
    reconcile(tbody, items, (item) => (item.details ? `details-${item.details.id}` : item.id), (item) => {
      const tr = document.createElement('tr');
      if (item.details) {
        tr.className = 'details';
        tr.innerHTML = '<td colspan="9"><dl></dl></td>';
        tr.id = `details-${item.details.id}`;
        return tr;
      }
      tr.innerHTML = '<td class="nowrap"><button type="button" class="disclosure" aria-expanded="false"><span class="caret" aria-hidden="true"></span><span class="time"></span></button></td><td><span class="model"></span><span class="sub"></span></td><td></td><td></td><td></td><td class="num"></td><td class="num"></td><td class="num"></td><td class="num"></td>';
      return tr;
    }, (tr, item) => {
      if (item.details) {
        const dl = $('dl', tr);
        const text = JSON.stringify(eventDetails(item.details));
        if (dl.dataset.text !== text) {
          dl.dataset.text = text;
          dl.replaceChildren(...eventDetails(item.details).flatMap(([name, value]) => {
            const dt = document.createElement('dt');
            dt.textContent = name;
            const dd = document.createElement('dd');
            if (name === 'Meta') { const pre = document.createElement('pre'); pre.textContent = value; dd.append(pre); }
            else dd.textContent = value;
            return [dt, dd];
          }));
        }
        return;
      }
      const r = item;
      const [time, model, token, project, user, input, output, total, cost] = tr.cells;
      const toggle = $('.disclosure', time);
      setText($('.time', toggle), localTime(r.timestamp));
      toggle.dataset.id = String(r.id);
      toggle.setAttribute('aria-expanded', String(state.expanded.has(r.id)));
      toggle.setAttribute('aria-controls', `details-${r.id}`);
      setTitle(time, `${r.timestamp} (UTC)${r.event_id ? ` · event ${r.event_id}` : ''}`);
      setText($('.model', model), r.model);
      setText($('.sub', model), r.provider || '');
      setText(token, r.token_label ?? '–');
      setText(project, r.project ?? '–');
      setText(user, r.user ?? '–');
      setText(input, formatInt(r.promptTokens));
      setTitle(input, r.cache_read_tokens || r.cache_write_tokens
        ? `${formatInt(r.cache_read_tokens)} cache read, ${formatInt(r.cache_write_tokens)} cache write` : '');
      setText(output, formatInt(r.completionTokens));
      setTitle(output, r.reasoning_tokens ? `${formatInt(r.reasoning_tokens)} reasoning` : '');
      setText(total, formatInt(r.totalTokens));
      const nano = toNano(r.cost_usd_exact);
      setText(cost, formatUsdFixed(nano));
      setTitle(cost, `${exactUsd(nano)} (${r.cost_source}${r.price_ref ? `, ${r.price_ref}` : ''})`);
    });
    state.usageRows = rows;

    const t = state.totals;
    const foot = $('#usage-totals');
    const requests = t ? t.requests : 0;
    setText($('[data-field="requests"]', foot), formatRequests(requests));
    setText($('[data-field="input"]', foot), t ? formatInt(t.input_tokens) : '–');
    setText($('[data-field="output"]', foot), t ? formatInt(t.output_tokens) : '–');
    setText($('[data-field="total"]', foot), t ? formatInt(t.total_tokens) : '–');
    const nano = t ? toNano(t.cost_usd_exact) : 0n;
    setText($('[data-field="cost"]', foot), t ? formatUsd(nano) : '–');
    setTitle($('[data-field="cost"]', foot), t ? exactUsd(nano) : '');

    const empty = rows.length === 0;
    $('#usage-empty').hidden = !empty;
    $('#usage-table').hidden = empty;
    if (empty) {
      const hasFilters = ['model', 'token', 'project', 'user'].some((k) => state.filters[k]);
      setText($('#usage-empty-hint'), state.tokens.length === 0
        ? 'No tracking token exists yet: create one under Tracking tokens, then send events to POST /ingest with it.'
        : hasFilters ? 'Try clearing some filters or widening the dates.' : 'Nothing was recorded in this date range. Widen the dates, or send events to POST /ingest.');
    }
    const first = state.page * state.pageSize + 1;
    const last = state.page * state.pageSize + rows.length;
    setText($('#page-label'), rows.length ? `Page ${state.page + 1} · ${formatInt(first)}–${formatInt(last)} of ${formatInt(requests)}` : '');
    setText($('#usage-summary'), `${formatRequests(requests)} from ${state.filters.start} to ${state.filters.end}, newest first`);
    $('#page-first').disabled = state.page === 0;
    $('#page-prev').disabled = state.page === 0;
    $('#page-next').disabled = !state.nextCursor;
  }

  function goToPage(page) {
    if (page > state.page) state.cursors[page] = state.nextCursor;
    state.cursors.length = page + 1;
    state.page = page;
    refresh();
  }

  // ---- CSV export ------------------------------------------------------------------------------------------------

  async function exportCsv() {
    const button = $('#export');
    button.disabled = true;
    setText(button, 'Exporting…');
    try {
      // fetch + blob rather than a link: the export needs the admin key header, which a plain link cannot send.
      const response = await api(`export.csv${query(filterParams())}`, { raw: true });
      const blob = await response.blob();
      const disposition = response.headers.get('Content-Disposition') || '';
      const name = /filename="([^"]+)"/.exec(disposition)?.[1] || 'cost-guardian.csv';
      const url = URL.createObjectURL(blob);
      const link = document.createElement('a');
      link.href = url;
      link.download = name;
      document.body.append(link);
      link.click();
      link.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
      announce(`Exported ${name}.`);
    } catch (e) {
      if (e.kind === 'unauthorized') { signOut('The server no longer accepts this admin key (401). Sign in again.'); return; }
      showBanner(`The export failed: ${e.message}.`, 30);
    } finally {
      button.disabled = false;
      setText(button, 'Export CSV');
    }
  }

  // ---- tracking tokens -------------------------------------------------------------------------------------------

  function renderTokens() {
    const tbody = $('#tokens-table tbody');
    $('#tokens-empty').hidden = state.tokens.length > 0;
    $('#tokens-table').hidden = state.tokens.length === 0;
    reconcile(tbody, state.tokens, (t) => t.id, () => {
      const tr = document.createElement('tr');
      tr.innerHTML = '<th scope="row"></th>' +
        '<td><span class="token-cell"><code class="masked"></code><button type="button" class="button ghost small" data-action="copy">Copy</button></span></td>' +
        '<td><span class="badge"></span></td><td class="nowrap"></td><td class="nowrap"></td><td class="num"></td>' +
        '<td><span class="actions"><button type="button" class="button small" data-action="toggle"></button>' +
        '<button type="button" class="button ghost small link-danger" data-action="delete">Delete</button></span></td>';
      return tr;
    }, (tr, t) => {
      const [label, token, status, created, seen, count] = tr.cells;
      setText(label, t.label);
      setText($('.masked', token), t.token_masked);
      $('[data-action="copy"]', token).setAttribute('aria-label', `Copy the token of ${t.label}`);
      const badge = $('.badge', status);
      setText(badge, t.active ? 'Active' : 'Inactive');
      badge.className = `badge ${t.active ? 'on' : 'off'}`;
      setText(created, localTime(t.created_at).slice(0, 10));
      setTitle(created, localTime(t.created_at));
      setText(seen, t.last_seen_at ? ago(t.last_seen_at) : 'never');
      setTitle(seen, t.last_seen_at ? localTime(t.last_seen_at) : 'No event stored with this token yet');
      setText(count, formatInt(t.usage_count));
      const toggle = $('[data-action="toggle"]', tr);
      setText(toggle, t.active ? 'Deactivate' : 'Activate');
      toggle.setAttribute('aria-label', `${t.active ? 'Deactivate' : 'Activate'} ${t.label}`);
      $('[data-action="delete"]', tr).setAttribute('aria-label', `Delete ${t.label}`);
    });
  }

  async function createToken(event) {
    event.preventDefault();
    const input = $('#new-token-label');
    const error = $('#create-token-error');
    const label = input.value.trim();
    if (!label) {
      error.hidden = false;
      setText(error, 'Give the token a label (1 to 64 characters), e.g. the application that will use it.');
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    const button = $('#create-token-submit');
    button.disabled = true;
    try {
      const created = await api('ingest/tokens', { method: 'POST', body: { label } });
      error.hidden = true;
      input.value = '';
      input.setAttribute('aria-invalid', 'false');
      openTokenDialog(created, button);
      refresh();
    } catch (e) {
      if (e.kind === 'unauthorized') { signOut('The server no longer accepts this admin key (401). Sign in again.'); return; }
      error.hidden = false;
      setText(error, e.status === 409 ? `A tracking token labelled “${label}” already exists: choose another label.`
        : e.kind === 'offline' ? 'Cannot reach the server: the token was not created. Try again when it is back.'
          : `The token was not created: ${e.message}`);
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    } finally {
      button.disabled = false;
    }
  }

  function serverUrl() {
    // Where this page came from, without /dashboard: the API's base, also behind a path prefix.
    return new URL('.', window.location.href).href.replace(/\/$/, '');
  }

  function snippets(token) {
    const url = serverUrl();
    const curl = `curl -X POST ${url}/ingest \\
  -H "X-Ingest-Key: $COST_GUARDIAN_INGEST_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{"tracking_token": "${token}",
       "event_id": "chatcmpl-123", "provider": "openai", "model": "gpt-4o-mini",
       "prompt_tokens": 1200, "completion_tokens": 350}'`;
    const python = `import json, os, urllib.request

COST_GUARDIAN_URL = "${url}"
TRACKING_TOKEN = "${token}"

def report_usage(response, provider="openai"):
    """Call after each model call with the SDK's response (OpenAI or Anthropic)."""
    event = {
        "tracking_token": TRACKING_TOKEN,
        "event_id": response.id,          # a repeat with the same id is stored once
        "provider": provider,
        "model": response.model,
        "usage": response.usage.model_dump(),
    }
    request = urllib.request.Request(
        COST_GUARDIAN_URL + "/ingest",
        data=json.dumps(event).encode(),
        headers={"Content-Type": "application/json",
                 "X-Ingest-Key": os.environ["COST_GUARDIAN_INGEST_KEY"]},
    )
    urllib.request.urlopen(request, timeout=5)`;
    const node = `const COST_GUARDIAN_URL = "${url}";
const TRACKING_TOKEN = "${token}";

// Call after each model call with the SDK's response (OpenAI or Anthropic). Node.js 18+.
async function reportUsage(response, provider = "openai") {
  await fetch(\`\${COST_GUARDIAN_URL}/ingest\`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "X-Ingest-Key": process.env.COST_GUARDIAN_INGEST_KEY,
    },
    body: JSON.stringify({
      tracking_token: TRACKING_TOKEN,
      event_id: response.id, // a repeat with the same id is stored once
      provider,
      model: response.model,
      usage: response.usage,
    }),
    signal: AbortSignal.timeout(5000),
  });
}`;
    return { curl, python, node };
  }

  let dialogOpener = null;

  function openDialog(dialog, opener) {
    dialogOpener = opener || document.activeElement;
    dialog.showModal();
  }

  // Focus goes back to what opened the dialog (or, if that row is gone, to the section's heading). Done right as
  // the dialog closes, not in its 'close' event, which comes a task later: by then focus would have been elsewhere.
  function restoreFocus() {
    if (!dialogOpener) return;
    const target = dialogOpener.isConnected ? dialogOpener : $(`#${state.view}-title`);
    dialogOpener = null;
    target?.focus();
  }

  function closeDialog(dialog) {
    if (dialog.open) dialog.close();
    restoreFocus();
  }

  function openTokenDialog(created, opener) {
    setText($('#new-token-name'), created.label);
    setText($('#new-token-value'), created.token);
    const code = snippets(created.token);
    setText($('#snippet-curl'), code.curl);
    setText($('#snippet-python'), code.python);
    setText($('#snippet-node'), code.node);
    selectTab($('#tab-curl'), false);
    openDialog($('#token-dialog'), opener);
    $('#copy-new-token').focus();
    announce(`Tracking token ${created.label} created.`);
  }

  function selectTab(tab, focus = true) {
    for (const t of $$('#snippet-tablist [role="tab"]')) {
      const selected = t === tab;
      t.setAttribute('aria-selected', String(selected));
      t.tabIndex = selected ? 0 : -1;
      $(`#${t.getAttribute('aria-controls')}`).hidden = !selected;
    }
    if (focus) tab.focus();
  }

  async function copyText(text, button) {
    let ok = false;
    try {
      await navigator.clipboard.writeText(text);
      ok = true;
    } catch {
      // Not a secure context (plain http to another host) or no permission: the old way, through a selection.
      const area = document.createElement('textarea');
      area.value = text;
      area.setAttribute('readonly', '');
      area.className = 'visually-hidden';
      document.body.append(area);
      area.select();
      try { ok = document.execCommand('copy'); } catch { ok = false; }
      area.remove();
      button?.focus();
    }
    if (button) {
      const original = button.dataset.label || button.textContent;
      button.dataset.label = original;
      setText(button, ok ? 'Copied' : 'Copy failed');
      window.setTimeout(() => setText(button, original), 1500);
    }
    announce(ok ? 'Copied to the clipboard.' : 'Could not copy: select the text and copy it by hand.');
  }

  async function onTokenAction(event) {
    const button = event.target.closest('button[data-action]');
    if (!button) return;
    const tr = button.closest('tr');
    const token = state.tokens.find((t) => String(t.id) === tr.dataset.key);
    if (!token) return;
    const action = button.dataset.action;
    if (action === 'copy') { copyText(token.token, button); return; }
    if (action === 'toggle') {
      button.disabled = true;
      try {
        const result = await api(`ingest/tokens/${token.id}/active`, { method: 'PATCH', body: { active: !token.active } });
        token.active = result.active;
        renderTokens();
        renderTokenOptions();
        announce(`${token.label} is now ${result.active ? 'active' : 'inactive'}${result.active ? '' : ': its events are refused (403) until it is activated again'}.`);
      } catch (e) {
        handleActionError(e, `${token.label} was not changed`);
      } finally {
        button.disabled = false;
      }
      return;
    }
    if (action === 'delete') {
      setText($('#confirm-title'), `Delete “${token.label}”?`);
      setText($('#confirm-text'), `Applications sending events with this token get 404 from now on. Its ${formatInt(token.usage_count)} stored events stay in the reports and exports, under its label. This cannot be undone.`);
      const dialog = $('#confirm-dialog');
      dialog.dataset.tokenId = String(token.id);
      openDialog(dialog, button);
      $('#confirm-cancel').focus();
    }
  }

  async function confirmDelete() {
    const dialog = $('#confirm-dialog');
    const id = dialog.dataset.tokenId;
    const token = state.tokens.find((t) => String(t.id) === id);
    dialogOpener = $('#new-token-label');  // the row is about to disappear
    closeDialog(dialog);
    if (!token) return;
    try {
      await api(`ingest/tokens/${token.id}`, { method: 'DELETE' });
      state.tokens = state.tokens.filter((t) => t !== token);
      if (state.filters.token === String(token.id)) state.filters.token = '';
      renderTokens();
      renderTokenOptions();
      announce(`${token.label} was deleted.`);
    } catch (e) {
      handleActionError(e, `${token.label} was not deleted`);
    }
  }

  function handleActionError(e, what) {
    if (e.kind === 'unauthorized') { signOut('The server no longer accepts this admin key (401). Sign in again.'); return; }
    const error = $('#create-token-error');
    error.hidden = false;
    setText(error, e.kind === 'offline' ? `${what}: the server cannot be reached.` : `${what}: ${e.message}`);
  }

  // ---- filters ---------------------------------------------------------------------------------------------------

  function syncFilterInputs() {
    const f = state.filters;
    $('#f-range').value = f.range;
    $('#f-start').value = f.start;
    $('#f-end').value = f.end;
    $('#f-project').value = f.project;
    $('#f-user').value = f.user;
    renderModelOptions();
    renderTokenOptions();
  }

  function applyFilters({ fromRange = false } = {}) {
    const f = state.filters;
    const range = $('#f-range').value;
    if (fromRange && range !== 'custom') Object.assign(f, rangeFor(range));
    else {
      const start = $('#f-start').value;
      const end = $('#f-end').value;
      const error = $('#filters-error');
      if (!start || !end || start > end) {
        error.hidden = false;
        setText(error, !start || !end ? 'Choose both dates.' : 'The start date is after the end date.');
        return;
      }
      error.hidden = true;
      const preset = rangeFor(range);
      if (range === 'custom' || start !== preset.start || end !== preset.end) f.range = 'custom';
      f.start = start;
      f.end = end;
    }
    if (fromRange) f.range = range;
    f.model = $('#f-model').value;
    f.token = $('#f-token').value;
    f.project = $('#f-project').value.trim();
    f.user = $('#f-user').value.trim();
    syncFilterInputs();
    state.cursors = [null];
    state.page = 0;
    writeHash();
    updateNavLinks();
    refresh({ userAction: true });
  }

  // A breakdown's name was clicked: filter everything by it.
  function drillDown(event) {
    const button = event.target.closest('button.drill');
    if (!button) return;
    const dim = button.closest('.breakdown').dataset.dimension;
    state.filters[dim] = button.dataset.value;
    syncFilterInputs();
    state.cursors = [null];
    state.page = 0;
    writeHash();
    updateNavLinks();
    announce(`Showing only ${button.textContent}.`);
    refresh({ userAction: true });
  }

  function clearFilters() {
    Object.assign(state.filters, { range: '30d', model: '', token: '', project: '', user: '' }, rangeFor('30d'));
    syncFilterInputs();
    state.cursors = [null];
    state.page = 0;
    writeHash();
    updateNavLinks();
    refresh({ userAction: true });
  }

  // ---- wiring ----------------------------------------------------------------------------------------------------

  function wire() {
    $('#signin-form').addEventListener('submit', signIn);
    $('#signout').addEventListener('click', () => signOut());
    $('#refresh').addEventListener('click', () => refresh({ userAction: true }));
    $('#banner-retry').addEventListener('click', () => refresh({ userAction: true }));
    $('#auto-refresh').addEventListener('change', () => { savePrefs(); scheduleRefresh(); });

    $('#filters').addEventListener('submit', (e) => { e.preventDefault(); applyFilters(); });
    $('#f-range').addEventListener('change', () => applyFilters({ fromRange: true }));
    for (const id of ['#f-start', '#f-end', '#f-model', '#f-token', '#f-project', '#f-user'])
      $(id).addEventListener('change', () => applyFilters());
    $('#f-clear').addEventListener('click', clearFilters);
    $('.breakdowns').addEventListener('click', drillDown);

    for (const radio of $$('input[name="stack"]')) radio.addEventListener('change', () => {
      state.stack = radio.value;
      savePrefs();
      refresh({ userAction: true });
    });

    $('#page-size').addEventListener('change', () => {
      state.pageSize = Number($('#page-size').value);
      savePrefs();
      state.cursors = [null];
      state.page = 0;
      refresh({ userAction: true });
    });
    $('#page-first').addEventListener('click', () => goToPage(0));
    $('#page-prev').addEventListener('click', () => goToPage(Math.max(0, state.page - 1)));
    $('#page-next').addEventListener('click', () => { if (state.nextCursor) goToPage(state.page + 1); });
    $('#export').addEventListener('click', exportCsv);
    $('#usage-table').addEventListener('click', (e) => {
      const toggle = e.target.closest('button.disclosure');
      if (!toggle) return;
      const id = Number(toggle.dataset.id);
      if (state.expanded.has(id)) state.expanded.delete(id);
      else state.expanded.add(id);
      renderUsage(state.usageRows);
    });

    $('#create-token').addEventListener('submit', createToken);
    $('#tokens-table').addEventListener('click', onTokenAction);
    $('#copy-new-token').addEventListener('click', (e) => copyText($('#new-token-value').textContent, e.currentTarget));
    for (const button of $$('.copy-snippet'))
      button.addEventListener('click', () => copyText($(`#${button.dataset.copy}`).textContent, button));
    const tabs = $$('#snippet-tablist [role="tab"]');
    for (const tab of tabs) {
      tab.addEventListener('click', () => selectTab(tab));
      tab.addEventListener('keydown', (e) => {
        const i = tabs.indexOf(tab);
        const next = e.key === 'ArrowRight' ? tabs[(i + 1) % tabs.length]
          : e.key === 'ArrowLeft' ? tabs[(i + tabs.length - 1) % tabs.length]
            : e.key === 'Home' ? tabs[0] : e.key === 'End' ? tabs[tabs.length - 1] : null;
        if (next) { e.preventDefault(); selectTab(next); }
      });
    }
    for (const dialog of $$('dialog')) {
      // Escape: close through closeDialog too, so focus returns at once.
      dialog.addEventListener('cancel', (e) => { e.preventDefault(); closeDialog(dialog); });
      dialog.addEventListener('close', restoreFocus);  // any other way it closed
      for (const close of $$('[data-close]', dialog)) close.addEventListener('click', () => closeDialog(dialog));
    }
    $('#confirm-cancel').addEventListener('click', () => closeDialog($('#confirm-dialog')));
    $('#confirm-ok').addEventListener('click', confirmDelete);

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
      if (state.key && $('#auto-refresh').checked &&
          (!state.lastUpdated || Date.now() - state.lastUpdated.getTime() > REFRESH_MS)) refresh();
      else scheduleRefresh();
    });
    // Another tab signed out (or in): follow it.
    window.addEventListener('storage', (e) => {
      if (e.key === KEY_NAME && e.newValue === null && state.key && state.remembered) signOut('Signed out in another tab.');
    });
  }

  function main() {
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
})();
