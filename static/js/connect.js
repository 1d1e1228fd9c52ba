// Connecting to Jupiter's DCA (Trigger API v2), once a day: the server fetches Jupiter's
// challenge for the signed-in wallet, the wallet signs exactly that (a message, or — for wallets
// that cannot sign messages — a memo transaction that is never sent), and the server checks the
// signature before it asks Jupiter for the token. The token stays on the server.
import { b64, fromB64, isRejection, plain, send, signMessage, signsMessages, signTransaction } from './bridge.js';

const body = document.body;

// Every answer has the one shape {state, code, message, next, ...} (bridge.js's `send`).
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

// Wallets that cannot sign messages (hardware wallets) get the challenge as a memo transaction,
// signed and never sent.
async function sign(button) {
  const type = (await signsMessages()) ? 'message' : 'transaction';
  const ch = await ask(button.dataset.challengeUrl, { type }, type === 'message' ? 'challenge' : type);
  if (type !== 'message') return { type, signedTransaction: b64(await signTransaction(fromB64(ch.transaction))) };
  const out = await signMessage(new TextEncoder().encode(ch.challenge));
  return { type, signedMessage: b64(out.signedMessage), signature: b64(out.signature) };
}

async function connect(button) {
  const status = button.closest('[data-dca-offer]').querySelector('.dca-status');
  const say = (text, kind) => {
    status.textContent = text;
    status.classList.toggle('error', kind === 'error');
  };
  button.disabled = true;
  say('Approve in your wallet: it shows a message from Jupiter to sign…');
  status.focus(); // the disabled button cannot keep it
  try {
    const answer = await sign(button);
    say('Checking your signature…');
    // The list is drawn again without the offer: the page's outcome line says it, focused.
    const outcome = document.getElementById('cancel-outcome');
    outcome.textContent = (await ask(button.dataset.verifyUrl, answer)).message;
    outcome.className = 'outcome success';
    outcome.focus();
    if (window.htmx) window.htmx.trigger(body, 'orders-changed');
  } catch (error) {
    say(isRejection(error)
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
