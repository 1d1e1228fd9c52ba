// Wallet bridge (Wallet Standard): sign-in (SIWS), signing, the JSON answers (views.answer).
// Server data: data-* on <body> (base.html). orders.js and connect.js import it.
const d = document.body.dataset;
const KEY = 'dca.wallet';
const ICON = /^data:image\/(svg\+xml|webp|png|gif);base64,/;
const WAIT_SECONDS = 60; // a cancel attempt lives 75 s
const NEEDS = {
  'standard:connect': 'connecting to websites',
  'standard:events': 'telling websites when you switch accounts',
  'solana:signTransaction': 'signing transactions',
};
const $ = (s) => document.querySelector(s);
const list = $('[data-wallets]');
const status = $('[data-status]');
const connectButton = $('[data-connect]');
const wallets = [];
let shown = false;
let busy = false;
let active = null; // {wallet, account}: the WalletAccount the wallet returned
let waiting = null;
let missing = false;
const reasons = new Map(); // wallet -> why it cannot be used, or ''

const el = (tag, props = {}, ...kids) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...kids);
  return e;
};
export const plain = (message) => Object.assign(new Error(message), { plain: true });
export const b64 = (bytes) => btoa(String.fromCharCode(...bytes));
export const fromB64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

function unusable(w) {
  const f = w.features || {};
  const lacking = Object.keys(NEEDS).filter((name) => !f[name]).map((name) => NEEDS[name]);
  if (!w.chains?.some((c) => c.startsWith('solana:'))) lacking.push('Solana');
  return lacking.length ? `${w.name} cannot be used here: it does not support ${lacking.join(', ')}.` : '';
}

// A decline: code 4001 or name first, words only without a code; never our `plain`.
export const isRejection = (e) => !e?.plain && (e?.code === 4001 || /Reject/.test(e?.name) ||
  e?.code == null && /reject|declin|denied|cancel/i.test(e?.message || e));

function inTime(promise, message) {
  let timer;
  const late = new Promise((_, fail) => { timer = setTimeout(() => fail(plain(message)), WAIT_SECONDS * 1000); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

// POST an object (as JSON) or a form; always resolves to an answer of the one shape.
export async function send(url, body, noAnswer = 'The dashboard did not answer. Check your connection and try again.') {
  const form = body instanceof URLSearchParams;
  let r;
  try {
    r = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'X-CSRFToken': d.csrf, ...(form ? {} : { 'Content-Type': 'application/json' }) },
      body: form ? body : JSON.stringify(body || {}),
    });
    const data = await r.json();
    if (data && typeof data.state === 'string') return data;
  } catch { /* none, or not JSON */ }
  if ([401, 403].includes(r?.status)) {
    return { state: 'signed_out', message: 'This page is out of date or you were signed out. Reload the page and sign in again.', next: 'sign_in' };
  }
  return { state: 'unknown', message: noAnswer, next: null };
}

function say(...parts) {
  if (status) status.replaceChildren(...parts.map((p) => (typeof p === 'string' ? el('p', {}, p) : p)));
}

function explain(e) {
  if (e?.plain) return String(e.message);
  if (isRejection(e)) return 'You declined the request in your wallet, so you are still signed out.';
  return `Your wallet could not sign in (${String(e?.message || e)}). Try again, or try another wallet.`;
}

async function post(url, body) {
  const { state, message, next, ...payload } = await send(
    url, body, 'The server could not complete the sign-in. Try again in a moment.');
  if (state === 'refused' || state === 'signed_out' || state === 'unknown') throw plain(message);
  return payload;
}

function noWallet() {
  if (window.solana || window.phantom) {
    return say('Your wallet is out of date and cannot sign in here. Please update it to its latest version, then reload this page.');
  }
  const a = (href, text) => el('a', { href, rel: 'noopener' }, text);
  say(
    el('p', {}, 'No Solana wallet was found in this browser. Install ',
      a('https://phantom.com/download', 'Phantom'), ', ',
      a('https://solflare.com/download', 'Solflare'), ' or ',
      a('https://backpack.app/downloads', 'Backpack'), ', then reload this page.'),
    "On a phone, open this page in your wallet app's own browser.",
  );
}

function render() {
  if (!list || !shown) return;
  list.parentElement.hidden = !wallets.length;
  list.replaceChildren(...wallets.map((w) => {
    if (reasons.get(w)) return el('li', { className: 'wallet-unusable' }, reasons.get(w));
    const b = el('button', { type: 'button', className: 'wallet-button', disabled: busy });
    if (ICON.test(w.icon || '')) b.append(el('img', { src: w.icon, alt: '', width: 28, height: 28 }));
    b.append(w.name);
    b.addEventListener('click', () => signIn(w));
    return el('li', {}, b);
  }));
  if (!wallets.length) noWallet();
  else if (missing) say();
  missing = !wallets.length;
}

async function signIn(w) {
  if (busy) return;
  busy = true;
  render();
  const f = w.features;
  const slow = `${w.name} did not answer within ${WAIT_SECONDS} seconds. You are still signed out — try again.`;
  try {
    let out, nonce;
    say(`Approve the sign-in in ${w.name}…`);
    status.focus(); // the wallet buttons are disabled meanwhile; what happens next is said here
    if (f['solana:signIn']) {
      const input = await post(d.challengeUrl);
      nonce = input.nonce;
      [out] = await inTime(f['solana:signIn'].signIn(input), slow);
    } else {
      const [account] = (await inTime(f['standard:connect'].connect(), slow)).accounts;
      if (!account) throw plain('Your wallet did not share an account. Unlock it and try again.');
      // Wallets that cannot sign messages (hardware wallets) sign the text in a memo transaction, never sent.
      const sm = f['solana:signMessage'];
      const ch = await post(d.challengeUrl, { address: account.address, type: sm ? 'message' : 'transaction' });
      nonce = ch.nonce;
      active = { wallet: w, account };
      [out] = sm ? await inTime(sm.signMessage({ account, message: new TextEncoder().encode(ch.text) }), slow)
        : [{ signedTransaction: await signTransaction(fromB64(ch.transaction)) }];
      out = { ...out, account };
    }
    say('Checking your signature…');
    const proof = { address: out.account.address, nonce };
    for (const k of ['signedMessage', 'signature', 'signedTransaction']) if (out[k]) proof[k] = b64(out[k]);
    await post(d.verifyUrl, proof);
    localStorage.setItem(KEY, w.name);
    active = { wallet: w, account: out.account };
    say('Signed in. Opening your orders…');
    location.assign(d.afterSignIn);
  } catch (e) {
    say(explain(e));
  } finally {
    busy = false;
    render();
  }
}

async function signOut() {
  localStorage.removeItem(KEY);
  await send(d.signOutUrl);
  location.reload();
}

// Connect again (silently if the wallet allows) to the account this session signed in with.
async function reconnect(silent) {
  const name = localStorage.getItem(KEY);
  const w = wallets.find((x) => x.name === name && !reasons.get(x)) ||
    (await new Promise((res) => { waiting = { name, res }; setTimeout(res, 3000); }));
  if (!w) throw plain('Your wallet was not found. Unlock it, reload the page and sign in again.');
  const connect = (o) => w.features['standard:connect'].connect(o).then((r) => r.accounts, () => []);
  let accounts = await connect({ silent: true });
  if (!accounts.length && !silent) accounts = await connect();
  const account = accounts.find((a) => a.address === d.wallet);
  if (accounts.length && !account) signOut(); // the wallet now uses another account
  if (!account) throw plain(`Connect ${w.name} to the account you signed in with, then try again.`);
  return (active = { wallet: w, account });
}

// 'legacy' or 0: the byte after the compact-u16 count of 64-byte signatures.
function version(bytes) {
  let count = 0, at = 0, b;
  do { b = bytes[at]; count |= (b & 0x7f) << (7 * at++); } while (b & 0x80 && at < 3);
  const first = bytes[at + 64 * count];
  return first & 0x80 ? first & 0x7f : 'legacy';
}

// Resolves to the signed bytes; rejects in plain words (`plain`) on a version or a wallet timeout.
export async function signTransaction(bytes) {
  const { wallet, account } = active || (await reconnect(false));
  const feature = wallet.features['solana:signTransaction'];
  const v = version(bytes);
  if (!(feature.supportedTransactionVersions || ['legacy']).includes(v)) {
    throw plain(`${wallet.name} cannot sign ${v === 'legacy' ? v : `version ${v}`} transactions. Nothing was sent — try another wallet.`);
  }
  const [out] = await inTime(
    feature.signTransaction({ account, transaction: bytes, chain: 'solana:mainnet' }),
    `Your wallet did not answer within ${WAIT_SECONDS} seconds. Nothing was sent.`,
  );
  return out.signedTransaction;
}

export async function signsMessages() {
  return !!(active || (await reconnect(false))).wallet.features['solana:signMessage'];
}

export async function signMessage(message) {
  const { wallet, account } = active || (await reconnect(false));
  const [out] = await inTime(
    wallet.features['solana:signMessage'].signMessage({ account, message }),
    `Your wallet did not answer within ${WAIT_SECONDS} seconds. Nothing was sent.`,
  );
  return out;
}

// A signed-in page follows the wallet: another account or a disconnect ends the session.
function watch(w) {
  if (!d.wallet || w.name !== localStorage.getItem(KEY)) return;
  w.features['standard:events'].on('change', ({ accounts }) => {
    if (!accounts) return;
    const account = accounts.find((a) => a.address === d.wallet);
    if (!account) signOut();
    else if (active) active.account = account;
  });
  if (!active) reconnect(true).catch(() => {});
}

// As the Wallet Standard's reference: unregister removes only what this call added.
function register(...ws) {
  const added = ws.filter((w, i) => w && !wallets.includes(w) && ws.indexOf(w) === i);
  for (const w of added) {
    wallets.push(w);
    reasons.set(w, unusable(w));
    if (reasons.get(w)) continue;
    if (waiting?.name === w.name) waiting.res(w);
    watch(w);
  }
  render();
  return () => {
    for (const w of added) if (wallets.includes(w)) wallets.splice(wallets.indexOf(w), 1);
    render();
  };
}

const api = Object.freeze({ register });
const call = (cb) => { try { cb(api); } catch (e) { console.warn('Wallet registration failed', e); } };
addEventListener('wallet-standard:register-wallet', (e) => call(e.detail));
dispatchEvent(new CustomEvent('wallet-standard:app-ready', { detail: api }));
const queued = navigator.wallets;
try {
  Object.defineProperty(navigator, 'wallets', { value: Object.freeze({ push: (...cbs) => cbs.forEach(call) }) });
} catch { /* another app already owns it */ }
if (Array.isArray(queued)) queued.forEach(call);

if (!d.wallet) localStorage.removeItem(KEY);
$('form.sign-out')?.addEventListener('submit', () => localStorage.removeItem(KEY));
connectButton?.addEventListener('click', () => {
  shown = true;
  connectButton.setAttribute('aria-expanded', 'true');
  render();
});
