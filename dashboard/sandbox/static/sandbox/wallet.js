// Sandbox wallet: a simulated Solana wallet, loaded only in sandbox mode (no real funds).
// The signing is wallet-core.js (shared with the browser tests); this adds what a real wallet
// adds: a key kept in this browser (WebCrypto Ed25519, in localStorage) and an approval sheet
// that says what is being signed, with "Approve" and "Decline", for every sign-in, message and
// transaction.
const core = window.SandboxWalletCore;
const NAME = 'Sandbox wallet — simulated, no real funds';
const STORE = 'dca.sandboxWallet';
const ICON = 'data:image/svg+xml;base64,' + btoa(
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#5b4bdb"/>' +
  '<path d="M9 11h14M9 16h14M9 21h14" stroke="#fff" stroke-width="2.5" stroke-linecap="round"/></svg>');
const toB64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)));
const fromB64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const state = () => JSON.parse(localStorage.getItem(STORE) || 'null');
const save = (s) => localStorage.setItem(STORE, JSON.stringify(s));

async function keys() {
  let s = state();
  if (!s?.pkcs8) {
    const pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']);
    s = {
      pkcs8: toB64(await crypto.subtle.exportKey('pkcs8', pair.privateKey)),
      raw: toB64(await crypto.subtle.exportKey('raw', pair.publicKey)),
      connected: false,
    };
    save(s);
  }
  const key = await crypto.subtle.importKey('pkcs8', fromB64(s.pkcs8), { name: 'Ed25519' }, false, ['sign']);
  const publicKey = fromB64(s.raw);
  return [{
    address: core.base58(publicKey),
    publicKey,
    label: 'Sandbox',
    sign: async (bytes) => new Uint8Array(await crypto.subtle.sign('Ed25519', key, bytes)),
  }];
}

const el = (tag, props = {}, ...kids) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...kids.filter((k) => k !== null && k !== undefined));
  return e;
};

// The approval sheet: a modal <dialog> (focus stays inside; Escape declines), one at a time.
let queue = Promise.resolve();
function approve(request) {
  const shown = queue.then(() => sheet(request));
  queue = shown.catch(() => {});
  return shown;
}

function sheet(request) {
  return new Promise((resolve) => {
    const address = request.account?.address || '';
    const decline = el('button', { type: 'button', className: 'sheet-button', textContent: 'Decline' });
    const ok = el('button', { type: 'button', className: 'sheet-button primary', textContent: 'Approve' });
    const title = el('h2', { id: 'sandbox-sheet-title', textContent: request.title });
    const dialog = el('dialog', { className: 'sandbox-sheet' },
      el('p', { className: 'sheet-brand' },
        el('img', { src: ICON, alt: '', width: 20, height: 20 }),
        'Sandbox wallet — simulated, no real funds'),
      title,
      el('ul', { className: 'sheet-lines' }, ...request.lines.map((line) => el('li', { textContent: line }))),
      request.detail ? el('pre', { className: 'sheet-detail', textContent: request.detail, tabIndex: 0 }) : null,
      address ? el('p', { className: 'sheet-account' }, 'Account ', el('code', { textContent: `${address.slice(0, 4)}…${address.slice(-4)}`, title: address })) : null,
      el('div', { className: 'sheet-buttons' }, decline, ok));
    dialog.setAttribute('aria-labelledby', title.id);
    dialog.dataset.kind = request.kind;
    const close = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    decline.addEventListener('click', () => close(false));
    ok.addEventListener('click', () => close(true));
    dialog.addEventListener('cancel', (event) => { event.preventDefault(); close(false); }); // Escape
    document.body.append(dialog);
    dialog.showModal();
    ok.focus();
  });
}

// What a real wallet's RPC tells it about the token accounts a transaction touches (so the sheet
// says "150 USDC", not base units): the sandbox answers for the accounts it made.
async function lookup(addresses, owner) {
  if (!addresses.length) return {};
  const query = new URLSearchParams([['wallet', owner], ...addresses.map((a) => ['address', a])]);
  try {
    const answer = await fetch(`/sandbox/token-accounts?${query}`);
    return answer.ok ? await answer.json() : {};
  } catch {
    return {};
  }
}

const { wallet } = core.createWallet({
  name: NAME,
  icon: ICON,
  accounts: keys,
  approve,
  lookup,
  remember: {
    get: () => Boolean(state()?.connected),
    set: (connected) => { if (state()) save({ ...state(), connected }); },
  },
});
core.register(wallet);
