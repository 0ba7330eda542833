// What the page holds in memory (one object every module shares) and what it keeps in web storage: the admin key
// and a few preferences.
import { $ } from './dom.js';

export const REFRESH_MS = 30_000;
export const KEY_NAME = 'cost-guardian.admin-key';
const PREFS_NAME = 'cost-guardian.prefs';

export const state = {
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
  chart: null,
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

// The key lives in sessionStorage (this tab, until it closes) unless the user asked to be remembered on this
// device (localStorage, until sign-out). Never in a cookie: the API authenticates with headers only, so a cookie
// would add nothing but cross-site request risk.
export function loadKey() {
  try {
    const local = window.localStorage.getItem(KEY_NAME);
    if (local) return { key: local, remembered: true };
    const session = window.sessionStorage.getItem(KEY_NAME);
    if (session) return { key: session, remembered: false };
  } catch { /* storage disabled: sign in every time */ }
  return null;
}

export function storeKey(key, remember) {
  try {
    window.localStorage.removeItem(KEY_NAME);
    window.sessionStorage.removeItem(KEY_NAME);
    (remember ? window.localStorage : window.sessionStorage).setItem(KEY_NAME, key);
  } catch { /* storage disabled: the key lives in memory for this page only */ }
}

export function forgetKey() {
  try {
    window.localStorage.removeItem(KEY_NAME);
    window.sessionStorage.removeItem(KEY_NAME);
  } catch { /* nothing stored */ }
}

// The auto-refresh switch is the one preference kept in the page rather than in `state`: its checkbox is the truth.
function autoRefreshBox() { return $('#auto-refresh'); }

export function loadPrefs() {
  try {
    const prefs = JSON.parse(window.localStorage.getItem(PREFS_NAME) || '{}');
    if (prefs.stack === 'token' || prefs.stack === 'model') state.stack = prefs.stack;
    if ([25, 50, 100, 250].includes(prefs.pageSize)) state.pageSize = prefs.pageSize;
    if (typeof prefs.autoRefresh === 'boolean') autoRefreshBox().checked = prefs.autoRefresh;
  } catch { /* defaults */ }
}

export function savePrefs() {
  try {
    window.localStorage.setItem(PREFS_NAME, JSON.stringify({
      stack: state.stack, pageSize: state.pageSize, autoRefresh: autoRefreshBox().checked,
    }));
  } catch { /* not kept */ }
}

export function autoRefreshOn() { return autoRefreshBox().checked; }
