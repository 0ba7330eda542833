// Which section is shown, and the URL's fragment that names it with the filters (#usage?range=custom&start=…
// &model=…), so a reload, a bookmark or a link to a colleague shows the same thing.
import { $, $$ } from './dom.js';
import { rangeFor } from './dates.js';
import { state } from './state.js';

const VIEWS = ['overview', 'usage', 'tokens'];
const TITLES = { overview: 'Overview', usage: 'Usage', tokens: 'Tracking tokens' };

const RANGES = ['7d', '30d', '90d', 'month', 'prev-month', 'custom'];

// Reads the filters into `state` and returns the section the fragment names.
export function readHash() {
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

export function writeHash() {
  const f = state.filters;
  const params = new URLSearchParams();
  params.set('range', f.range);
  if (f.range === 'custom') { params.set('start', f.start); params.set('end', f.end); }
  for (const name of ['model', 'token', 'project', 'user']) if (f[name]) params.set(name, f[name]);
  const hash = `#${state.view}?${params}`;
  if (window.location.hash !== hash) window.history.replaceState(null, '', hash);
}

export function showView(view, { focus = false } = {}) {
  state.view = view;
  for (const link of $$('.tabs a')) {
    if (link.dataset.view === view) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
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

// Links keep the filters when switching sections.
export function updateNavLinks() {
  const search = window.location.hash.includes('?') ? window.location.hash.slice(window.location.hash.indexOf('?')) : '';
  for (const link of $$('.tabs a')) link.setAttribute('href', `#${link.dataset.view}${search}`);
}
