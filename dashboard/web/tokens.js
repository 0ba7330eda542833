// The tracking tokens screen: the list, creating one (shown once in a dialog with snippets), copying,
// deactivating and activating, deleting after a confirmation.
import { $, $$, announce, reconcile, setText, setTitle, showFieldError } from './dom.js';
import { formatInt } from './format.js';
import { ago, localTime } from './dates.js';
import { api } from './api.js';
import { state } from './state.js';
import { refresh, signOutRefused } from './session.js';
import { renderTokenOptions } from './filters.js';
import { closeDialog, openDialog } from './dialogs.js';
import { snippets } from './snippets.js';

/// Loaded by every refresh, whatever the section: the filters offer the tokens too.
export async function loadTokens(signal) {
  const body = await api('ingest/tokens', { signal });
  if (signal.aborted) return;
  state.tokens = body.tokens;
  renderTokenOptions();
  renderTokens();
}

function createTokenRow() {
  const tr = document.createElement('tr');
  tr.innerHTML = '<th scope="row"></th>' +
    '<td><span class="token-cell"><code class="masked"></code><button type="button" class="button ghost small" data-action="copy">Copy</button></span></td>' +
    '<td><span class="badge"></span></td><td class="nowrap"></td><td class="nowrap"></td><td class="num"></td>' +
    '<td><span class="actions"><button type="button" class="button small" data-action="toggle"></button>' +
    '<button type="button" class="button ghost small link-danger" data-action="delete">Delete</button></span></td>';
  return tr;
}

function updateTokenRow(tr, t) {
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
}

function renderTokens() {
  $('#tokens-empty').hidden = state.tokens.length > 0;
  $('#tokens-table').hidden = state.tokens.length === 0;
  reconcile($('#tokens-table tbody'), state.tokens, (t) => t.id, createTokenRow, updateTokenRow);
}

async function createToken(event) {
  event.preventDefault();
  const input = $('#new-token-label');
  const error = $('#create-token-error');
  const label = input.value.trim();
  if (!label) {
    showFieldError(input, error, 'Give the token a label (1 to 64 characters), e.g. the application that will use it.');
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
    if (e.kind === 'unauthorized') { signOutRefused(); return; }
    showFieldError(input, error, e.status === 409 ? `A tracking token labelled “${label}” already exists: choose another label.`
      : e.kind === 'offline' ? 'Cannot reach the server: the token was not created. Try again when it is back.'
        : `The token was not created: ${e.message}`);
  } finally {
    button.disabled = false;
  }
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

async function toggleToken(token, button) {
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
}

function askDelete(token, button) {
  setText($('#confirm-title'), `Delete “${token.label}”?`);
  setText($('#confirm-text'), `Applications sending events with this token get 404 from now on. Its ${formatInt(token.usage_count)} stored events stay in the reports and exports, under its label. This cannot be undone.`);
  const dialog = $('#confirm-dialog');
  dialog.dataset.tokenId = String(token.id);
  openDialog(dialog, button);
  $('#confirm-cancel').focus();
}

// A button of a token's row: copy, deactivate / activate, delete.
function onTokenAction(event) {
  const button = event.target.closest('button[data-action]');
  if (!button) return;
  const tr = button.closest('tr');
  const token = state.tokens.find((t) => String(t.id) === tr.dataset.key);
  if (!token) return;
  const action = button.dataset.action;
  if (action === 'copy') copyText(token.token, button);
  else if (action === 'toggle') toggleToken(token, button);
  else if (action === 'delete') askDelete(token, button);
}

async function confirmDelete() {
  const dialog = $('#confirm-dialog');
  const id = dialog.dataset.tokenId;
  const token = state.tokens.find((t) => String(t.id) === id);
  closeDialog(dialog, { returnFocusTo: $('#new-token-label') });  // the row is about to disappear
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
  if (e.kind === 'unauthorized') { signOutRefused(); return; }
  const error = $('#create-token-error');
  error.hidden = false;
  setText(error, e.kind === 'offline' ? `${what}: the server cannot be reached.` : `${what}: ${e.message}`);
}

// The snippet tabs follow the ARIA tabs pattern: arrow keys, Home and End move between them.
function wireSnippetTabs() {
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
}

export function wireTokens() {
  $('#create-token').addEventListener('submit', createToken);
  $('#tokens-table').addEventListener('click', onTokenAction);
  $('#copy-new-token').addEventListener('click', (e) => copyText($('#new-token-value').textContent, e.currentTarget));
  for (const button of $$('.copy-snippet'))
    button.addEventListener('click', () => copyText($(`#${button.dataset.copy}`).textContent, button));
  wireSnippetTabs();
  $('#confirm-cancel').addEventListener('click', () => closeDialog($('#confirm-dialog')));
  $('#confirm-ok').addEventListener('click', confirmDelete);
}
