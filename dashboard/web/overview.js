// The overview: the four spend cards, the daily cost chart and the breakdowns by model, tracking token, project
// and user (a name in a breakdown filters everything by it).
import { $, $$, reconcile, setText, setTitle, syncDatalist } from './dom.js';
import { exactUsd, formatInt, formatRequests, formatTokens, formatUsd, toNano } from './format.js';
import { addDays, daysBetween, isoDate, monthName } from './dates.js';
import { api, filterParams, query } from './api.js';
import { savePrefs, state } from './state.js';
import { drawDailyCost, stackByDay } from './charts.js';
import { filterBy } from './filters.js';
import { refresh } from './session.js';

// ---- cards ---------------------------------------------------------------------------------------------------------

async function loadCards(signal) {
  const today = new Date();
  const prevMonthStart = new Date(today.getFullYear(), today.getMonth() - 1, 1);
  const thirtyAgo = addDays(today, -29);
  const start = prevMonthStart < thirtyAgo ? prevMonthStart : thirtyAgo;
  // One report by local day covers every card: today, 7 and 30 days, this month and the previous one.
  const report = await api(`costs${query({ group_by: 'day', start: isoDate(start), end: isoDate(today), tz: state.tz })}`, { signal });
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
  renderCards(today, sum);
}

// `sum(from, to)`: cost, requests and tokens of the days from..to (ISO dates, both included).
function renderCards(today, sum) {
  const todayText = isoDate(today);
  const figures = {
    today: sum(todayText, todayText),
    '7d': sum(isoDate(addDays(today, -6)), todayText),
    '30d': sum(isoDate(addDays(today, -29)), todayText),
    month: sum(isoDate(new Date(today.getFullYear(), today.getMonth(), 1)), todayText),
  };
  for (const [id, total] of Object.entries(figures)) {
    const card = $(`#card-${id}`);
    setText($('[data-field="cost"]', card), formatUsd(total.cost));
    setTitle($('[data-field="cost"]', card), exactUsd(total.cost));
    setText($('[data-field="requests"]', card), formatRequests(total.requests));
    setText($('[data-field="tokens"]', card), formatTokens(total.tokens));
  }
  renderMonthComparison(today, figures.month, sum);
}

// This month against the same days of the previous month, and the previous month's whole total.
function renderMonthComparison(today, thisMonth, sum) {
  const prevMonthStart = new Date(today.getFullYear(), today.getMonth() - 1, 1);
  const prevMonthEnd = new Date(today.getFullYear(), today.getMonth(), 0);
  const samePrevDay = Math.min(today.getDate(), prevMonthEnd.getDate());
  const prevWhole = sum(isoDate(prevMonthStart), isoDate(prevMonthEnd));
  const prevSoFar = sum(isoDate(prevMonthStart), isoDate(new Date(prevMonthStart.getFullYear(), prevMonthStart.getMonth(), samePrevDay)));
  const month = $('#card-month');
  setText($('[data-field="title"]', month), `This month (${monthName(today)})`);
  const delta = $('[data-field="delta"]', month);
  const compare = $('[data-field="compare"]', month);
  if (prevSoFar.cost > 0n) {
    const change = Number((thisMonth.cost - prevSoFar.cost) * 1000n / prevSoFar.cost) / 10;
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

// ---- chart ---------------------------------------------------------------------------------------------------------

async function loadChart(signal) {
  const dimension = state.stack;
  const report = await api(`costs${query({ group_by: `day,${dimension}`, ...filterParams() })}`, { signal });
  if (signal.aborted) return;
  const days = daysBetween(state.filters.start, state.filters.end);
  const series = stackByDay(report.rows, days, (row) => (dimension === 'model'
    ? { key: row.model ?? '', label: row.model || '(no model)' }
    : { key: String(row.ingest_token_id ?? ''), label: row.token_label || '(no token)' }));
  const total = series.reduce((sum, s) => sum + s.total, 0n);
  $('#chart-empty').hidden = report.rows.length > 0;
  setText($('#chart-title'), `Daily cost · ${formatUsd(total)}`);
  $('#cost-chart').setAttribute('aria-label',
    `Daily cost from ${state.filters.start} to ${state.filters.end}, stacked by ${dimension === 'model' ? 'model' : 'tracking token'}: ${formatUsd(total)} in all` +
    (series.length ? `; largest: ${series.slice(0, 3).map((s) => `${s.label} ${formatUsd(s.total)}`).join(', ')}.` : '.'));
  drawDailyCost(days, series);
}

// ---- breakdowns ----------------------------------------------------------------------------------------------------

async function loadBreakdowns(signal) {
  const dims = ['model', 'token', 'project', 'user'];
  const reports = await Promise.all(dims.map((d) => api(`costs${query({ group_by: d, ...filterParams() })}`, { signal })));
  if (signal.aborted) return;
  dims.forEach((dim, i) => renderBreakdown(dim, reports[i]));
}

// A breakdown's rows, largest cost first; projects and users seen are kept for the filters' suggestions.
function breakdownRows(dim, report) {
  return report.rows.map((row) => {
    let key; let label;
    if (dim === 'token') { key = String(row.ingest_token_id ?? ''); label = row.token_label || '(no token)'; }
    else { key = row[dim] ?? '\u0000none'; label = row[dim] ?? `(no ${dim})`; }
    if (dim === 'project' && row.project) state.seenProjects.add(row.project);
    if (dim === 'user' && row.user) state.seenUsers.add(row.user);
    return { key, label, none: row[dim === 'token' ? 'ingest_token_id' : dim] == null, row, nano: toNano(row.cost_usd_exact) };
  }).sort((a, b) => (b.nano > a.nano ? 1 : b.nano < a.nano ? -1 : a.label.localeCompare(b.label)));
}

function renderBreakdown(dim, report) {
  const card = $(`#breakdown-${dim}`);
  const total = toNano(report.totals?.cost_usd_exact);
  const rows = breakdownRows(dim, report);
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

// A breakdown's name was clicked: filter everything by it.
function drillDown(event) {
  const button = event.target.closest('button.drill');
  if (!button) return;
  filterBy(button.closest('.breakdown').dataset.dimension, button.dataset.value, button.textContent);
}

// ---- the screen ----------------------------------------------------------------------------------------------------

/// What a refresh of the overview loads.
export const overviewLoaders = [loadCards, loadChart, loadBreakdowns];

export function wireOverview() {
  $('.breakdowns').addEventListener('click', drillDown);
  for (const radio of $$('input[name="stack"]')) radio.addEventListener('change', () => {
    state.stack = radio.value;
    savePrefs();
    refresh({ userAction: true });
  });
}
