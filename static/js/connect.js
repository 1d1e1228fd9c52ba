// Connecting to Jupiter's DCA (Trigger API v2), once a day: the server fetches Jupiter's
// challenge for the signed-in wallet, the wallet signs exactly that (a message, or — for wallets
// that cannot sign messages — a memo transaction that is never sent), and the server checks the
// signature before it asks Jupiter for the token. The token stays on the server.
import { signMessage, signTransaction } from './bridge.js';

const body = document.body;
const fromB64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const toB64 = (bytes) => btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(''));
const declined = (error) => error?.code === 4001 || /reject|declin|denied|cancel/i.test(String(error?.message));

async function post(url, data) {
  let response;
  try {
    response = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRFToken': body.dataset.csrf },
      body: JSON.stringify(data),
    });
  } catch {
    throw new Error('The dashboard did not answer. Check your connection and try again.');
  }
  const answer = await response.json().catch(() => null);
  if (response.redirected || !answer) throw new Error('Your session has ended. Reload the page and sign in again.');
  if (!response.ok) throw new Error(answer.message || 'The dashboard could not connect to Jupiter. Try again in a moment.');
  return answer;
}

async function sign(button) {
  const challenge = await post(button.dataset.challengeUrl, { type: 'message' });
  if (typeof challenge.message !== 'string' || !challenge.message) throw new Error('Jupiter sent no message to sign. Try again in a moment.');
  try {
    const out = await signMessage(new TextEncoder().encode(challenge.message));
    return { type: 'message', signedMessage: toB64(out.signedMessage), signature: toB64(out.signature) };
  } catch (error) {
    if (!error?.unsupported) throw error;
  }
  // Hardware wallets: the same challenge as a memo transaction, signed and never sent.
  const memo = await post(button.dataset.challengeUrl, { type: 'transaction' });
  if (typeof memo.transaction !== 'string' || !memo.transaction) throw new Error('Jupiter sent nothing to sign. Try again in a moment.');
  const signed = await signTransaction(fromB64(memo.transaction));
  return { type: 'transaction', signedTransaction: toB64(signed) };
}

async function connect(button) {
  const status = button.closest('[data-dca-offer]').querySelector('.dca-status');
  const say = (text, kind) => {
    status.textContent = text;
    status.classList.toggle('error', kind === 'error');
  };
  button.disabled = true;
  say('Approve in your wallet: it shows a message from Jupiter to sign…');
  try {
    const answer = await sign(button);
    say('Checking your signature…');
    const result = await post(button.dataset.verifyUrl, answer);
    say(result.message);
    if (window.htmx) window.htmx.trigger(body, 'orders-changed');
  } catch (error) {
    say(declined(error)
      ? 'You declined in your wallet, so nothing was shared with Jupiter. Your other orders stay listed; press the button whenever you want to see your DCA orders.'
      : String(error?.message || error), 'error');
    button.disabled = false;
  }
}

document.addEventListener('click', (event) => {
  const button = event.target.closest('[data-dca-connect]');
  if (button && !button.disabled) connect(button);
});
