// Wallet bridge: finds Solana wallets (Wallet Standard), signs in (SIWS), signs transactions.
// Server data comes from data-* attributes on <body>; see docs in wallet-bridge.md.
// Other modules (orders.js) take signTransaction from this one; the page loads each module once.
const d = document.body.dataset;
const KEY = 'dca.wallet';
const ICON = /^data:image\/(svg\+xml|webp|png|gif);base64,/;
const NEEDS = ['standard:connect', 'standard:events', 'solana:signTransaction'];
const $ = (s) => document.querySelector(s);
const list = $('[data-wallets]');
const status = $('[data-status]');
const connectButton = $('[data-connect]');
const wallets = [];
let shown = false;
let busy = false;
let active = null; // {wallet, account}: the very WalletAccount the wallet returned
let waiting = null;
let missing = false;

const el = (tag, props = {}, ...kids) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...kids);
  return e;
};
const plain = (message) => Object.assign(new Error(message), { plain: true });
const b64 = (bytes) => btoa(String.fromCharCode(...bytes));
const usable = (w) =>
  NEEDS.every((f) => w.features?.[f]) && w.chains?.some((c) => c.startsWith('solana:'));

function say(...parts) {
  if (status) status.replaceChildren(...parts.map((p) => (typeof p === 'string' ? el('p', {}, p) : p)));
}

function explain(e) {
  const m = String(e?.message || e);
  if (e?.plain) return m;
  if (e?.code === 4001 || /reject|declin|denied|cancel/i.test(m))
    return 'You declined the request in your wallet, so you are still signed out.';
  return `Your wallet could not sign in (${m}). Try again, or try another wallet.`;
}

async function post(url, body) {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-CSRFToken': d.csrf },
    body: JSON.stringify(body || {}),
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    throw plain(
      data.error ||
        (r.status === 403
          ? 'This page is out of date. Reload it and try again.'
          : 'The server could not complete the sign-in. Try again in a moment.'),
    );
  }
  return data;
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
  try {
    let out, nonce;
    say(`Approve the sign-in in ${w.name}…`);
    if (f['solana:signIn']) {
      const input = await post(d.challengeUrl);
      nonce = input.nonce;
      [out] = await f['solana:signIn'].signIn(input);
    } else if (f['solana:signMessage']) {
      const [account] = (await f['standard:connect'].connect()).accounts;
      if (!account) throw plain('Your wallet did not share an account. Unlock it and try again.');
      const ch = await post(d.challengeUrl, { address: account.address });
      nonce = ch.nonce;
      const message = new TextEncoder().encode(ch.message);
      [out] = await f['solana:signMessage'].signMessage({ account, message });
      out = { ...out, account };
    } else {
      throw plain(`${w.name} cannot sign in to websites. Try another wallet.`);
    }
    say('Checking your signature…');
    await post(d.verifyUrl, {
      address: out.account.address,
      signedMessage: b64(out.signedMessage),
      signature: b64(out.signature),
      nonce,
    });
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
  await post(d.signOutUrl).catch(() => {});
  location.reload();
}

// Connect again (silently if the wallet allows) to the account this session signed in with.
async function reconnect(silent) {
  const name = localStorage.getItem(KEY);
  const w = wallets.find((x) => x.name === name) ||
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

/** Sign a serialized transaction with the signed-in wallet; resolves to the signed bytes. */
export async function signTransaction(bytes) {
  const { wallet, account } = active || (await reconnect(false));
  const [out] = await wallet.features['solana:signTransaction'].signTransaction({
    account, transaction: bytes, chain: 'solana:mainnet',
  });
  return out.signedTransaction;
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

function register(...ws) {
  for (const w of ws) {
    if (!usable(w) || wallets.includes(w)) continue;
    wallets.push(w);
    if (waiting?.name === w.name) waiting.res(w);
    watch(w);
  }
  render();
  return () => {
    for (const w of ws) if (wallets.includes(w)) wallets.splice(wallets.indexOf(w), 1);
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
