// The usage screen: events newest first, paged with the API's cursor, each row opening every stored field of its
// event; the totals row (the same filters through /costs, over all pages); the CSV export.
import { $, announce, reconcile, setText, setTitle } from './dom.js';
import { exactUsd, formatInt, formatRequests, formatUsd, formatUsdFixed, toNano } from './format.js';
import { localTime } from './dates.js';
import { api, filterParams, query } from './api.js';
import { savePrefs, state } from './state.js';
import { refresh, showBanner, signOutRefused } from './session.js';

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
    ['Operation', r.operation],
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

function createUsageRow(item) {
  const tr = document.createElement('tr');
  if (item.details) {
    tr.className = 'details';
    tr.innerHTML = '<td colspan="9"><dl></dl></td>';
    tr.id = `details-${item.details.id}`;
    return tr;
  }
  tr.innerHTML = '<td class="nowrap"><button type="button" class="disclosure" aria-expanded="false"><span class="caret" aria-hidden="true"></span><span class="time"></span></button></td><td><span class="model"></span><span class="sub"></span></td><td></td><td></td><td></td><td class="num"></td><td class="num"></td><td class="num"></td><td class="num"></td>';
  return tr;
}

function updateDetailsRow(tr, event) {
  const dl = $('dl', tr);
  const text = JSON.stringify(eventDetails(event));
  if (dl.dataset.text === text) return;
  dl.dataset.text = text;
  dl.replaceChildren(...eventDetails(event).flatMap(([name, value]) => {
    const dt = document.createElement('dt');
    dt.textContent = name;
    const dd = document.createElement('dd');
    if (name === 'Meta') { const pre = document.createElement('pre'); pre.textContent = value; dd.append(pre); }
    else dd.textContent = value;
    return [dt, dd];
  }));
}

function updateEventRow(tr, r) {
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
}

function renderTotals() {
  const t = state.totals;
  const foot = $('#usage-totals');
  setText($('[data-field="requests"]', foot), formatRequests(t ? t.requests : 0));
  setText($('[data-field="input"]', foot), t ? formatInt(t.input_tokens) : '–');
  setText($('[data-field="output"]', foot), t ? formatInt(t.output_tokens) : '–');
  setText($('[data-field="total"]', foot), t ? formatInt(t.total_tokens) : '–');
  const nano = t ? toNano(t.cost_usd_exact) : 0n;
  setText($('[data-field="cost"]', foot), t ? formatUsd(nano) : '–');
  setTitle($('[data-field="cost"]', foot), t ? exactUsd(nano) : '');
}

// The empty state says what to do next; the pager and the summary say where in the results this page is.
function renderPlace(rows) {
  const requests = state.totals ? state.totals.requests : 0;
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

function renderUsage(rows) {
  // An opened row is followed by its details row; both are keyed, so a refresh keeps them open and in place.
  const items = rows.flatMap((r) => (state.expanded.has(r.id) ? [r, { details: r }] : [r]));
  reconcile($('#usage-table tbody'), items, (item) => (item.details ? `details-${item.details.id}` : item.id),
    createUsageRow, (tr, item) => (item.details ? updateDetailsRow(tr, item.details) : updateEventRow(tr, item)));
  state.usageRows = rows;
  renderTotals();
  renderPlace(rows);
}

function goToPage(page) {
  if (page > state.page) state.cursors[page] = state.nextCursor;
  state.cursors.length = page + 1;
  state.page = page;
  refresh();
}

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
    if (e.kind === 'unauthorized') { signOutRefused(); return; }
    showBanner(`The export failed: ${e.message}.`, 30);
  } finally {
    button.disabled = false;
    setText(button, 'Export CSV');
  }
}

/// What a refresh of the usage screen loads.
export const usageLoaders = [loadUsage];

export function wireUsage() {
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
}
