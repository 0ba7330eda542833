// DOM helpers every screen uses. Writes only when a value changed, so a refresh that finds the same data touches
// nothing: no flicker, no lost selection, no screen reader re-reading a cell.

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

export function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}

export function setTitle(el, text) {
  if (el && el.title !== text) el.title = text;
}

// A form field's error: shown in its alert box, the field marked invalid and focused, so the user is where to fix it.
export function showFieldError(input, box, message) {
  box.hidden = false;
  setText(box, message);
  input.setAttribute('aria-invalid', 'true');
  input.focus();
}

export function announce(message) {
  const status = $('#status');
  // Re-setting the same text is not announced again: clear first.
  status.textContent = '';
  window.setTimeout(() => { status.textContent = message; }, 30);
}

// Keeps a tbody's rows in the order of `items`, reusing the row of each key: unchanged rows are not touched, so
// a refresh neither flickers nor moves focus or scroll.
export function reconcile(tbody, items, keyOf, create, update) {
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

// Rebuilds a <select>'s options only when they changed, keeping the selection (also one no longer listed).
export function syncOptions(select, options, selected) {
  const wanted = [...options];
  if (selected && !wanted.some(([value]) => value === selected)) wanted.push([selected, `${selected} (not listed)`]);
  const current = Array.from(select.options).slice(1).map((o) => [o.value, o.textContent]);
  if (JSON.stringify(current) !== JSON.stringify(wanted)) {
    const first = select.options[0];
    select.replaceChildren(first, ...wanted.map(([value, label]) => new Option(label, value)));
  }
  select.value = selected;
}

export function syncDatalist(list, values) {
  const sorted = [...values].sort();
  const current = Array.from(list.options).map((o) => o.value);
  if (JSON.stringify(current) !== JSON.stringify(sorted))
    list.replaceChildren(...sorted.map((v) => new Option(v, v)));
}
