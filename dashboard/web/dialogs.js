// The page's modal dialogs (<dialog>): they give focus back to what opened them, also when closed by Escape.
import { $, $$ } from './dom.js';
import { state } from './state.js';

let dialogOpener = null;

export function openDialog(dialog, opener) {
  dialogOpener = opener || document.activeElement;
  dialog.showModal();
}

// Focus goes back to what opened the dialog (or, if that row is gone, to the section's heading). Done right as
// the dialog closes, not in its 'close' event, which comes a task later: by then focus would have been elsewhere.
function restoreFocus() {
  if (!dialogOpener) return;
  const target = dialogOpener.isConnected ? dialogOpener : $(`#${state.view}-title`);
  dialogOpener = null;
  target?.focus();
}

/// Closes `dialog`; focus goes to `returnFocusTo` when given (what opened it is about to disappear), else back to
/// what opened it.
export function closeDialog(dialog, { returnFocusTo = null } = {}) {
  if (returnFocusTo) dialogOpener = returnFocusTo;
  if (dialog.open) dialog.close();
  restoreFocus();
}

export function wireDialogs() {
  for (const dialog of $$('dialog')) {
    // Escape: close through closeDialog too, so focus returns at once.
    dialog.addEventListener('cancel', (e) => { e.preventDefault(); closeDialog(dialog); });
    dialog.addEventListener('close', restoreFocus);  // any other way it closed
    for (const close of $$('[data-close]', dialog)) close.addEventListener('click', () => closeDialog(dialog));
  }
}
