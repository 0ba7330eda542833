// The daily cost chart: Chart.js (the npm build, loaded by the page as a classic script before the modules run,
// so it is window.Chart) and the series it stacks. If the library did not load, everything else still works.
import { $ } from './dom.js';
import { formatUsd, toNano } from './format.js';
import { parseDate } from './dates.js';
import { state } from './state.js';

const PALETTE = ['#4f46e5', '#0ea5e9', '#f59e0b', '#10b981', '#ec4899', '#8b5cf6', '#ef4444', '#14b8a6', '#94a3b8'];
const MAX_SERIES = 8;  // the largest eight by cost, the rest as "Other": a legend people can read

function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

const byCostThenLabel = (a, b) => (b.total > a.total ? 1 : b.total < a.total ? -1 : a.label.localeCompare(b.label));

/// Report rows (day, cost_usd_exact and whatever `identify` reads) as series over `days`, largest first:
/// [{key, label, nano[] (one per day), total}], at most MAX_SERIES with the smallest summed as "Other".
export function stackByDay(rows, days, identify) {
  const index = new Map(days.map((d, i) => [d, i]));
  const series = new Map();  // key -> {label, nano[], total}
  for (const row of rows) {
    const { key, label } = identify(row);
    if (!series.has(key)) series.set(key, { key, label, nano: days.map(() => 0n), total: 0n });
    const s = series.get(key);
    const i = index.get(row.day);
    const nano = toNano(row.cost_usd_exact);
    if (i !== undefined) s.nano[i] += nano;
    s.total += nano;
  }
  const list = [...series.values()].sort(byCostThenLabel);
  if (list.length <= MAX_SERIES) return list;
  const rest = list.slice(MAX_SERIES - 1);
  const other = { key: '\u0000other', label: `Other (${rest.length})`, nano: days.map(() => 0n), total: 0n };
  for (const s of rest) { s.nano.forEach((n, i) => { other.nano[i] += n; }); other.total += s.total; }
  return [...list.slice(0, MAX_SERIES - 1), other];
}

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

/// Shows `series` (from stackByDay) over `days` in the chart, creating it on first use.
export function drawDailyCost(days, series) {
  const chart = ensureChart();
  if (!chart) return;
  // Replace the data in place: the chart keeps its size and legend state and does not re-animate from zero.
  const previous = new Map(chart.data.datasets.map((d) => [d.key, d]));
  chart.data.labels = days;
  chart.options.scales.x.ticks.callback = function tick(value) {
    return parseDate(days[value]).toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
  };
  chart.data.datasets = series.map((s, i) => {
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
