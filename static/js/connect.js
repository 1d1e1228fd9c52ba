// Connecting to Jupiter's DCA (Trigger API v2), once a day: the server fetches Jupiter's
// challenge for the signed-in wallet, the wallet signs exactly that (a message, or — for wallets
// that cannot sign messages — a memo transaction that is never sent), and the server checks the
// signature before it asks Jupiter for the token. The token stays on the server.
import { isRejection, send, signMessage, signTransaction } from './bridge.js';

const body = document.body;
const fromB64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const toB64 = (bytes) => btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(''));
const plain = (message) => Object.assign(new Error(message), { plain: true });

// Every answer has the one shape {state, message, next, ...} (bridge.js's `send`).
async function ask(url, data, field) {
  const answer = await send(url, data);
  if (answer.state === 'refused' || answer.state === 'signed_out' || answer.state === 'unknown') {
    throw Object.assign(plain(answer.message), { code: answer.code });
  }
  if (field && (typeof answer[field] !== 'string' || !answer[field])) {
    throw plain('Jupiter sent nothing to sign. Try again in a moment.');
  }
  return answer;
}

async function sign(button) {
  const { challenge } = await ask(button.dataset.challengeUrl, { type: 'message' }, 'challenge');
  try {
    const out = await signMessage(new TextEncoder().encode(challenge));
    return { type: 'message', signedMessage: toB64(out.signedMessage), signature: toB64(out.signature) };
  } catch (error) {
    if (!error?.unsupported) throw error;
  }
  // Hardware wallets: the same challenge as a memo transaction, signed and never sent.
  const { transaction } = await ask(button.dataset.challengeUrl, { type: 'transaction' }, 'transaction');
  return { type: 'transaction', signedTransaction: toB64(await signTransaction(fromB64(transaction))) };
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
    say((await ask(button.dataset.verifyUrl, answer)).message);
    if (window.htmx) window.htmx.trigger(body, 'orders-changed');
  } catch (error) {
    say(isRejection(error) && !error?.plain
      ? 'You declined in your wallet, so nothing was shared with Jupiter. Your other orders stay listed; press the button whenever you want to see your DCA orders.'
      : String(error?.message || error), 'error');
    // Jupiter no longer knows the message that was signed: the button offers a fresh one.
    if (error?.code === 'challenge_not_found') button.textContent = 'Sign again';
    button.disabled = false;
  }
}

document.addEventListener('click', (event) => {
  const button = event.target.closest('[data-dca-connect]');
  if (button && !button.disabled) connect(button);
});
