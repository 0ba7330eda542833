// Numbers and money as the dashboard shows them.
//
// Money arrives as exact decimal strings ("0.000390000"); sums stay exact in BigInt nano-USD, and only the
// display rounds: dollars and cents from $1, four decimals from a cent, three significant digits below.

const NANO = 1_000_000_000n;

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });

export function formatInt(n) { return integer.format(n); }

export function formatTokens(n) {
  return n >= 100_000 ? `${compact.format(n)} tokens` : `${integer.format(n)} tokens`;
}

export function formatRequests(n) { return `${integer.format(n)} ${n === 1 ? 'request' : 'requests'}`; }

export function toNano(exact) {
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

export function formatUsd(nano) {
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
export function formatUsdFixed(nano, decimals = 6) {
  const negative = nano < 0n;
  const scaled = roundTo(negative ? -nano : nano, decimals);
  const unit = 10n ** BigInt(decimals);
  return `${negative ? '-' : ''}$${integer.format(scaled / unit)}.${(scaled % unit).toString().padStart(decimals, '0')}`;
}

export function exactUsd(nano) {
  const negative = nano < 0n;
  const abs = negative ? -nano : nano;
  return `${negative ? '-' : ''}$${abs / NANO}.${(abs % NANO).toString().padStart(9, '0')}`;
}
