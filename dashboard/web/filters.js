// The filters shared by the overview's chart and breakdowns, the usage table, its totals and the export: the form,
// the lists it offers (models, tracking tokens) and what changing it does.
import { $, announce, setText, syncOptions } from './dom.js';
import { rangeFor } from './dates.js';
import { api } from './api.js';
import { state } from './state.js';
import { updateNavLinks, writeHash } from './router.js';
import { refresh } from './session.js';

function renderModelOptions() {
  syncOptions($('#f-model'), state.models.map((m) => [m, m]), state.filters.model);
}

export function renderTokenOptions() {
  syncOptions($('#f-token'), state.tokens.map((t) => [String(t.id), t.active ? t.label : `${t.label} (inactive)`]),
    state.filters.token);
}

export async function loadModels(signal) {
  const body = await api('models', { signal });
  if (signal.aborted) return;
  state.models = body.models;
  renderModelOptions();
}

export function syncFilterInputs() {
  const f = state.filters;
  $('#f-range').value = f.range;
  $('#f-start').value = f.start;
  $('#f-end').value = f.end;
  $('#f-project').value = f.project;
  $('#f-user').value = f.user;
  renderModelOptions();
  renderTokenOptions();
}

// A preset range moves with the calendar: a tab left open over midnight shows the new day.
export function followCalendar() {
  if (state.filters.range === 'custom') return;
  Object.assign(state.filters, rangeFor(state.filters.range));
  syncFilterInputs();
}

// The filters changed: show them, start the table again from its newest page, keep them in the URL, and load.
function filtersChanged(announcement = '') {
  syncFilterInputs();
  state.cursors = [null];
  state.page = 0;
  writeHash();
  updateNavLinks();
  if (announcement) announce(announcement);
  refresh({ userAction: true });
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
  filtersChanged();
}

/// Filters everything by one value of a dimension (model, token, project, user); `label` is what the user clicked.
export function filterBy(dimension, value, label) {
  state.filters[dimension] = value;
  filtersChanged(`Showing only ${label}.`);
}

function clearFilters() {
  Object.assign(state.filters, { range: '30d', model: '', token: '', project: '', user: '' }, rangeFor('30d'));
  filtersChanged();
}

export function wireFilters() {
  $('#filters').addEventListener('submit', (e) => { e.preventDefault(); applyFilters(); });
  $('#f-range').addEventListener('change', () => applyFilters({ fromRange: true }));
  for (const id of ['#f-start', '#f-end', '#f-model', '#f-token', '#f-project', '#f-user'])
    $(id).addEventListener('change', () => applyFilters());
  $('#f-clear').addEventListener('click', clearFilters);
}
