// The orders page: refresh the active list while the tab is visible, and the cancel flow
// (server-issued transaction -> wallet signature -> server relays it once).
import { isRejection, send, signTransaction } from './bridge.js';

const body = document.body;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const fromB64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const toB64 = (bytes) => btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(''));

function refreshOrders() {
  if (window.htmx) window.htmx.trigger(body, 'orders-changed');
}

const panel = document.getElementById('active-panel');
if (panel && window.htmx) {
  const seconds = Number(panel.dataset.refreshSeconds) || 60;
  setInterval(() => {
    // Never while a cancel confirmation is open or a refund is being finished: the refresh would replace it.
    if (document.visibilityState === 'visible' && !document.querySelector('.confirm, [data-busy]')) {
      window.htmx.trigger(body, 'refresh-orders');
    }
  }, seconds * 1000);
}

// Every answer has the one shape {state, message, next, ...}; bridge.js's `send` makes one of a
// lost or non-JSON answer too (a 403 page: the session ended).
const post = (url, form) => send(url, form || new URLSearchParams(),
  'The dashboard did not answer. Check your connection, then look at the list before trying again.');

function say(element, text, kind, link) {
  element.textContent = text;
  element.classList.remove('success', 'error', 'pending');
  if (kind) element.classList.add(kind);
  if (link) {
    const a = document.createElement('a');
    a.href = link;
    a.rel = 'noopener noreferrer';
    a.target = '_blank';
    a.textContent = `View the transaction on ${body.dataset.explorer || 'the explorer'}`;
    element.append(' ', a);
  }
}

// The list is out of date (the order is closed, stopped, or Jupiter's DCA must be connected again):
// say why above the list, which refreshes (the last-known orders stay listed meanwhile).
function announceAndRefresh(status, result) {
  say(document.getElementById('cancel-outcome') || status, result.message, 'error');
  refreshOrders();
}

// A Jupiter DCA (v2) order is stopped as soon as Jupiter issues its refund: from then on only
// "Finish the refund" makes sense (a fresh refund transaction, checked again).
function finishable(box, button, words) {
  button.hidden = false;
  button.disabled = false;
  button.textContent = words || 'Finish the refund';
  const keep = box.querySelector('a.secondary');
  if (keep) keep.hidden = true;
}

async function cancel(button) {
  const box = button.closest('.confirm, .finish');
  const status = box.querySelector('.cancel-status');
  box.dataset.busy = '1';
  try {
    await run(box, button, status);
  } finally {
    delete box.dataset.busy;
  }
}

async function run(box, button, status) {
  button.disabled = true;
  say(status, 'Preparing the cancel transaction…');
  const start = await post(button.dataset.cancelStart);
  if (!start.transaction) {
    if (start.next === 'refresh' || start.next === 'connect') {
      announceAndRefresh(status, start);
      return;
    }
    say(status, start.message, start.next === 'wait' ? 'pending' : 'error');
    button.disabled = false;
    if (start.next === 'retry') button.textContent = 'Try again';
    return;
  }
  const stopped = start.system === 'v2';
  if (stopped) finishable(box, button);
  button.disabled = true;
  say(status, stopped ? start.message : 'Approve in your wallet…');
  let signed;
  try {
    signed = await signTransaction(fromB64(start.transaction));
  } catch (error) {
    // Nothing was signed, or what was signed is dropped: the attempt ends (a wallet that never
    // answered leaves it to expire, unused). A v2 order stays stopped: the answer says so.
    const declined = error?.plain ? null : await post(start.decline_url);
    let words = `Your wallet could not sign (${error && error.message}). Nothing was sent.`;
    if (error?.plain) words = error.message;
    else if (stopped && declined?.message) words = declined.message;
    else if (isRejection(error)) words = 'You declined in your wallet, so nothing was sent. Your order keeps running.';
    say(status, words, 'error');
    if (stopped) finishable(box, button);
    else button.disabled = false;
    return;
  }
  button.hidden = true; // signed: from here on there is nothing left to press
  say(status, stopped ? 'Sending the refund…' : 'Sending…');
  let result = await post(start.submit_url, new URLSearchParams({ signed_transaction: toB64(signed) }));
  for (let tries = 0; (result.state === 'pending' || result.state === 'sending') && tries < 24; tries++) {
    say(status, result.message || 'Still confirming — don’t send it again.', 'pending', result.explorer_url);
    await sleep(5000);
    result = await post(start.status_url);
  }
  if (result.next === 'connect' || result.next === 'refresh') {
    announceAndRefresh(status, result);
    return;
  }
  if (result.state === 'refused') {
    // Nothing happened: keep the message beside the order, with a fresh try where it can help.
    say(status, result.message, 'error');
    if (result.next === 'finish') finishable(box, button);
    if (result.next === 'retry') {
      button.hidden = false;
      button.disabled = false;
      button.textContent = 'Try again';
    }
    return;
  }
  if (result.state === 'succeeded') {
    // The order leaves the list: say so above it, where the message stays visible.
    say(document.getElementById('cancel-outcome') || status, result.message, 'success', result.explorer_url);
    refreshOrders();
    return;
  }
  // Failed or still unknown: keep the answer beside the order, with what to do next (no explorer
  // link for a transaction that never landed).
  const failed = result.state === 'failed';
  say(status, result.message, failed ? 'error' : 'pending', failed ? '' : result.explorer_url);
  button.hidden = !failed;
  button.disabled = false;
  if (window.htmx) window.htmx.trigger(body, 'cancel-finished');
  if (result.next === 'retry') button.textContent = 'Try again';
  if (result.next === 'finish') finishable(box, button);
}

document.addEventListener('click', (event) => {
  const button = event.target.closest('[data-cancel-start]');
  if (button && !button.disabled) cancel(button);
});
