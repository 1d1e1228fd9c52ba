// The orders page: refresh the lists while the tab is visible, and the cancel flow
// (server-issued transaction -> wallet signature -> server relays it once).
// The rule for every step: after a swap, focus lands on what changed and the message about it is
// in view; a control that no longer does what it says is disabled or hidden.
import { isRejection, send, signTransaction } from './bridge.js';

const body = document.body;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const fromB64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const toB64 = (bytes) => btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(''));

function refreshOrders() {
  if (window.htmx) window.htmx.trigger(body, 'orders-changed');
}

// Focus an element (made focusable if it is not) and bring it into view.
function focusOn(element) {
  if (!element) return;
  if (!element.matches('a[href], button, input, select, textarea, [tabindex]')) element.setAttribute('tabindex', '-1');
  element.focus({ preventScroll: true });
  element.scrollIntoView({ block: 'nearest' });
}

// --- refreshing the active list --------------------------------------------------------------

const panel = document.getElementById('active-panel');
if (panel && window.htmx) {
  const seconds = Number(panel.dataset.refreshSeconds) || 60;
  setInterval(() => {
    // Never while a cancel confirmation is open: the trader is reading it, or a cancel is under
    // way. Outcomes that change the list refresh it themselves (see `finish`).
    if (document.visibilityState === 'visible' && !document.querySelector('#active-panel .confirm')) {
      window.htmx.trigger(body, 'refresh-orders');
    }
  }, seconds * 1000);
}

// A refresh of the active list keeps the trader's place: open timelines stay open and the
// focused control (or its card) keeps the focus.
let place = null;
body.addEventListener('htmx:beforeSwap', (event) => {
  const target = event.detail.target;
  if (target?.id?.startsWith('cancel-')) target.dataset.closed = target.innerHTML; // "Keep" puts it back
  if (target !== panel) return;
  const focused = document.activeElement;
  const card = focused?.closest?.('[data-order]');
  place = {
    open: [...panel.querySelectorAll('[data-order] details[open]')].map((d) => d.closest('[data-order]').dataset.order),
    order: card && panel.contains(card) ? card.dataset.order : null,
    text: focused?.textContent?.trim() || '',
  };
});

body.addEventListener('htmx:afterSettle', (event) => {
  const target = event.detail.target;
  if (target?.id?.startsWith('cancel-')) {
    // The confirmation box just opened: focus it, so the next Tab reaches "Confirm cancel".
    const confirm = target.querySelector('.confirm');
    clearOutcome();
    focusOn(confirm || target.querySelector('[role="alert"]'));
    return;
  }
  if (target === panel && place) {
    const { open, order, text } = place;
    place = null;
    for (const key of open) {
      const details = panel.querySelector(`[data-order="${CSS.escape(key)}"] details`);
      if (details) details.open = true;
    }
    if (!order || panel.contains(document.activeElement)) return;
    const card = panel.querySelector(`[data-order="${CSS.escape(order)}"]`);
    if (!card) return;
    const same = [...card.querySelectorAll('a[href], button, summary')].find((el) => el.textContent.trim() === text);
    focusOn(same || card);
  }
});

// "Keep this order": put the card's cancel button back and focus it (no request needed).
document.addEventListener('click', (event) => {
  const keep = event.target.closest('[data-keep]');
  if (!keep) return;
  const actions = keep.closest('.actions');
  if (!actions?.dataset.closed) return; // a confirmation page of its own: back to the list
  event.preventDefault();
  if (keep.closest('.confirm')?.dataset.busy) return;
  actions.innerHTML = actions.dataset.closed;
  delete actions.dataset.closed;
  if (window.htmx) window.htmx.process(actions);
  focusOn(actions.querySelector('button'));
});

// --- talking to the server -----------------------------------------------------------------------

// Every answer has the one shape {state, message, next, ...}; bridge.js's `send` makes one of a
// lost or non-JSON answer too (a 403 page: the session ended).
const post = (url, form) => send(url, form || new URLSearchParams(),
  'The dashboard did not answer. Check your connection, then look at the list before trying again.');

// What an answer asks of the page next: "retry" (a fresh try can work), "refresh" (the list is
// out of date: this order is closed, or not one of this wallet's), "wait", "sign_in" or "".
// An order found already closed makes the list out of date whatever else the answer offers.
function nextStep(answer) {
  if (/already (closed|cancelled)/i.test(answer.message || '')) return 'refresh';
  return answer.next || '';
}

// --- messages ----------------------------------------------------------------------------------

function say(element, text, kind, link, name) {
  element.replaceChildren();
  element.classList.remove('success', 'error', 'pending');
  if (kind) element.classList.add(kind);
  if (name) element.append(Object.assign(document.createElement('strong'), { className: 'order-name', textContent: name }));
  element.append(text || '');
  if (link) {
    const a = document.createElement('a');
    a.href = link;
    a.rel = 'noopener noreferrer';
    a.target = '_blank';
    a.textContent = `View the transaction on ${body.dataset.explorer || 'the explorer'}`;
    element.append(' ', a);
  }
}

function clearOutcome() {
  const outcome = document.getElementById('cancel-outcome');
  if (outcome) say(outcome, '');
}

// An outcome that outlives the card (cancelled, or found already closed): above the list, in
// view and focused, while the list refreshes below it.
function announce(box, text, kind, link) {
  const outcome = document.getElementById('cancel-outcome');
  if (!outcome) return false;
  say(outcome, text, kind, link, box.dataset.orderName);
  focusOn(outcome);
  outcome.scrollIntoView({ block: 'center' });
  return true;
}

// --- the cancel flow -----------------------------------------------------------------------------

function controls(box) {
  return {
    confirm: box.querySelector('[data-cancel-start]'),
    keep: box.querySelector('[data-keep]'),
    status: box.querySelector('.cancel-status'),
  };
}

// While a cancel is under way: Confirm disabled, Keep hidden (declining in the wallet is how to
// keep the order until it signs; after that nothing can be taken back).
function busy(box) {
  const { confirm, keep, status } = controls(box);
  box.dataset.busy = '1';
  confirm.disabled = true;
  confirm.textContent = 'Confirm cancel';
  keep.hidden = true;
  focusOn(status);
}

// The cancel stopped and nothing was sent: both choices work again (a fresh attempt is issued).
function idle(box, retry) {
  const { confirm, keep, status } = controls(box);
  delete box.dataset.busy;
  keep.hidden = false;
  confirm.hidden = false;
  confirm.disabled = false;
  confirm.textContent = retry ? 'Try again' : 'Confirm cancel';
  focusOn(status);
}

async function cancel(button) {
  const box = button.closest('.confirm');
  const { status } = controls(box);
  clearOutcome(); // an earlier outcome must not sit above this one
  busy(box);
  say(status, 'Preparing the cancel transaction…');
  const start = await post(button.dataset.cancelStart);
  if (!start.transaction) {
    finish(box, start, false);
    return;
  }
  say(status, 'Approve in your wallet…', 'pending');
  let signed;
  try {
    signed = await signTransaction(fromB64(start.transaction));
  } catch (error) {
    // Nothing was signed, or what was signed is dropped: the attempt ends (a wallet that never
    // answered leaves it to expire, unused).
    if (!error?.plain) await post(start.decline_url);
    let words = `Your wallet could not sign (${error?.message}). Nothing was sent.`;
    if (isRejection(error)) words = 'You declined in your wallet, so nothing was sent. Your order keeps running.';
    else if (error?.plain) words = error.message;
    say(status, words, 'error');
    idle(box, false);
    return;
  }
  controls(box).confirm.hidden = true; // signed: from here on there is nothing left to press
  say(status, 'Sending… this cannot be taken back now.', 'pending');
  let result = await post(start.submit_url, new URLSearchParams({ signed_transaction: toB64(signed) }));
  for (let tries = 0; (result.state === 'pending' || result.state === 'sending') && tries < 24; tries++) {
    say(status, result.message || 'Still confirming — don’t send it again.', 'pending', result.explorer_url);
    await sleep(5000);
    result = await post(start.status_url);
  }
  finish(box, result, true);
}

// The end of a cancel, `signed` or not (a start refused, or lost, leaves nothing on its way).
function finish(box, result, signed) {
  const { status } = controls(box);
  const next = nextStep(result);
  if (window.htmx) window.htmx.trigger(body, 'cancel-finished');
  if (result.state === 'succeeded') {
    if (!announce(box, result.message, 'success', result.explorer_url)) say(status, result.message, 'success', result.explorer_url);
    refreshOrders(); // the card leaves the list; history and the cancel requests follow
    return;
  }
  if (next === 'refresh') {
    // This order is closed (or not ours any more): the box can no longer work. Say so above the
    // list, which refreshes now — the periodic refresh waits while a box is open.
    controls(box).confirm.disabled = true;
    if (!announce(box, result.message, 'error')) say(status, result.message, 'error');
    refreshOrders();
    return;
  }
  if (signed && ['pending', 'sending', 'unknown'].includes(result.state)) {
    // Sent, outcome not known yet: nothing to retry or take back; the cancel requests list keeps
    // checking it.
    say(status, result.message, 'pending', result.explorer_url);
    focusOn(status);
    return;
  }
  // Refused, failed, expired: nothing changed on chain, so no explorer link.
  say(status, result.message, 'error');
  idle(box, next === 'retry');
}

document.addEventListener('click', (event) => {
  const button = event.target.closest('[data-cancel-start]');
  if (button && !button.disabled) cancel(button);
});
