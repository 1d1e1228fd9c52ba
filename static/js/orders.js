// The orders page: list refreshes and the cancel flow (issued transaction -> wallet -> relayed
// once). After every swap the focus lands on what changed, its message in view; a control that
// no longer does what it says is disabled or hidden.
import { b64, fromB64, isRejection, send, signTransaction } from './bridge.js';

const body = document.body;
const htmx = () => window.htmx;
const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const refreshOrders = () => htmx()?.trigger(body, 'orders-changed');
// The list as an answer carries it (the order cancelled, or a refund waiting): shown with the answer.
const show = (html) => panel && htmx()?.swap(panel, html, { swapStyle: 'innerHTML' });
const post = (url, form) => send(url, form || new URLSearchParams(),
  'The dashboard did not answer. Check your connection, then look at the list before trying again.');

function focusOn(el) {
  if (!el) return;
  if (!el.matches('a[href], button, summary, [tabindex]')) el.tabIndex = -1;
  el.focus({ preventScroll: true });
  el.scrollIntoView({ block: 'nearest' });
}

const panel = $('active-panel');
if (panel && htmx()) {
  setInterval(() => {
    if (document.visibilityState === 'visible' && !panel.querySelector('.confirm, [data-busy]')) htmx().trigger(body, 'refresh-orders');
  }, (Number(panel.dataset.refreshSeconds) || 60) * 1000);
}

// A refreshed list keeps open timelines and the focus.
let place = null;
body.addEventListener('htmx:beforeSwap', ({ detail: { target } }) => {
  if (target?.id?.startsWith('cancel-')) target.dataset.closed = target.innerHTML; // for "Keep"
  if (target !== panel) return;
  const focused = document.activeElement;
  place = {
    open: [...panel.querySelectorAll('details[open]')].map((d) => {
      const c = d.closest('[data-order]');
      return [c?.dataset.order, [...(c?.querySelectorAll('details') || [])].indexOf(d)]; // a timeline, a mint
    }),
    order: panel.contains(focused) ? focused.closest('[data-order]')?.dataset.order : null,
    text: focused?.textContent.trim(),
  };
});

// The page's polite live region says what changed where the focus alone would not.
const tell = (text) => { $('announce').textContent = text; };

body.addEventListener('htmx:afterSettle', ({ detail: { target, requestConfig } }) => {
  const card = (key) => key && panel.querySelector(`[data-order="${CSS.escape(key)}"]`);
  const shown = requestConfig?.elt.hasAttribute('data-reveal') && target.querySelector('[data-announce]');
  if (shown) { // "Show history": the list that appeared, named
    focusOn(shown);
    tell(shown.dataset.announce);
  } else if (target?.id?.startsWith('cancel-')) {
    clearOutcome();
    focusOn(target.querySelector('.confirm, [role="alert"]'));
  } else if (target === panel && place) {
    const { open, order, text } = place;
    place = null;
    for (const [key, n] of open) { const d = card(key)?.querySelectorAll('details')[n]; if (d) d.open = true; }
    const c = card(order);
    if (c && !panel.contains(document.activeElement)) {
      focusOn([...c.querySelectorAll('a[href], button, summary')].find((el) => el.textContent.trim() === text) || c);
    }
  }
});

document.addEventListener('click', (event) => {
  const keep = event.target.closest('[data-keep]');
  const actions = keep?.closest('.actions');
  if (!actions?.dataset.closed) return;
  event.preventDefault();
  actions.innerHTML = actions.dataset.closed;
  delete actions.dataset.closed;
  htmx()?.process(actions);
  focusOn(actions.querySelector('button'));
});

function say(el, text, kind, link, name) {
  el.replaceChildren();
  el.classList.remove('success', 'error', 'pending');
  if (kind) el.classList.add(kind);
  if (name) el.append(Object.assign(document.createElement('strong'), { className: 'order-name', textContent: name }));
  el.append(text || '');
  if (link) {
    const a = Object.assign(document.createElement('a'), { href: link, rel: 'noopener noreferrer', target: '_blank' });
    a.textContent = `View the transaction on ${body.dataset.explorer || 'the explorer'}`;
    el.append(' ', a);
  }
}

function clearOutcome() {
  if ($('cancel-outcome')) say($('cancel-outcome'), '');
}

function announce(box, status, text, kind, link) {
  const outcome = $('cancel-outcome');
  if (!outcome) return say(status, text, kind, link);
  say(outcome, text, kind, link, box.dataset.orderName);
  focusOn(outcome);
  outcome.scrollIntoView({ block: 'center' });
}

const parts = (box) => [box.querySelector('[data-cancel-start]'), box.querySelector('[data-keep]') || {}, box.querySelector('.cancel-status')];

function busy(box) {
  const [confirm, keep, status] = parts(box);
  confirm.disabled = keep.hidden = true;
  confirm.textContent = box.dataset.stopped ? 'Finish the refund' : 'Confirm cancel';
  box.dataset.busy = 1;
  focusOn(status);
}

// A stopped DCA (v2) order only offers a fresh refund.
function idle(box, retry) {
  const [confirm, keep, status] = parts(box);
  const stopped = keep.hidden = !!box.dataset.stopped;
  confirm.disabled = confirm.hidden = false;
  confirm.textContent = stopped ? 'Finish the refund' : retry ? 'Try again' : 'Confirm cancel';
  delete box.dataset.busy;
  focusOn(status);
}

async function cancel(button) {
  const box = button.closest('.confirm, .finish');
  const status = parts(box)[2];
  clearOutcome();
  say(status, 'Preparing the cancel transaction…'); // first: an empty status cannot take the focus
  busy(box);
  const start = await post(button.dataset.cancelStart);
  if (!start.transaction) return finish(box, start, false);
  if (start.system === 'v2') box.dataset.stopped = 1;
  say(status, start.system === 'v2' ? start.message : 'Approve in your wallet…', 'pending');
  let signed;
  try {
    signed = await signTransaction(fromB64(start.transaction));
  } catch (error) {
    const declined = error?.plain || await post(start.decline_url);
    const message = isRejection(error) ? declined.message
      : error?.plain ? error.message : `Your wallet could not sign (${error?.message}). Nothing was sent.`;
    if (declined.panel) return finish(box, { ...declined, message }, false);
    say(status, message, 'error');
    return idle(box, false);
  }
  button.hidden = true; // signed: nothing can be taken back
  say(status, 'Sending… this cannot be taken back now.', 'pending');
  let result = await post(start.submit_url, new URLSearchParams({ signed_transaction: b64(signed) }));
  for (let tries = 0; ['pending', 'sending'].includes(result.state) && tries < 24; tries++) {
    say(status, result.message, 'pending', result.explorer_url);
    await sleep(5000);
    result = await post(start.status_url);
  }
  finish(box, result, true);
}

// What happens next is the server's `next` (decided on codes and states), never the words.
function finish(box, result, signed) {
  const status = parts(box)[2];
  const { next, panel: fresh } = result;
  htmx()?.trigger(body, 'cancel-finished');
  if (fresh) show(fresh);
  if (result.state === 'succeeded' || next === 'refresh' || next === 'connect' || fresh) {
    delete box.dataset.busy;
    parts(box)[0].disabled = true;
    announce(box, status, result.message, result.state === 'succeeded' ? 'success' : 'error', result.explorer_url);
    if (!fresh) refreshOrders();
  } else if (signed && ['pending', 'sending', 'unknown'].includes(result.state)) {
    say(status, result.message, 'pending', result.explorer_url);
    delete box.dataset.busy;
    focusOn(status);
  } else { // nothing reached the chain: no explorer link
    say(status, result.message, 'error');
    idle(box, next === 'retry');
  }
}

document.addEventListener('click', (event) => {
  const button = event.target.closest('[data-cancel-start]');
  if (button && !button.disabled) cancel(button);
  const copy = event.target.closest('[data-copy]'); // a mint address
  if (copy) navigator.clipboard.writeText(copy.dataset.copy).then(() => tell(copy.dataset.copied), () => tell(copy.dataset.failed));
});
