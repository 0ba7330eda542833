// Dates are local calendar days of the browser: the API reads them in the browser's zone (the `tz` parameter).

function pad(n) { return String(n).padStart(2, '0'); }

export function isoDate(d) { return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`; }

export function parseDate(text) {
  const [y, m, d] = text.split('-').map(Number);
  return new Date(y, m - 1, d);
}

export function addDays(d, n) { const c = new Date(d); c.setDate(c.getDate() + n); return c; }

export function daysBetween(startText, endText) {
  const days = [];
  for (let d = parseDate(startText), end = parseDate(endText); d <= end && days.length < 3700; d = addDays(d, 1))
    days.push(isoDate(d));
  return days;
}

export function localTime(iso) {
  const d = new Date(iso);
  return `${isoDate(d)} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
export function ago(iso) {
  const seconds = (Date.parse(iso) - Date.now()) / 1000;
  const abs = Math.abs(seconds);
  if (abs < 45) return 'just now';
  if (abs < 3600) return relative.format(Math.round(seconds / 60), 'minute');
  if (abs < 86400) return relative.format(Math.round(seconds / 3600), 'hour');
  return relative.format(Math.round(seconds / 86400), 'day');
}

export function monthName(d) { return d.toLocaleDateString(undefined, { month: 'long' }); }

// The first and last day of a preset range ('7d', '30d', '90d', 'month', 'prev-month'), ending today.
export function rangeFor(range, today = new Date()) {
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
