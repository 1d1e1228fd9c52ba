// Sandbox wallet: a simulated Solana wallet, loaded only in sandbox mode (no real funds).
// It is the wallet side of the Wallet Standard handshake; its Ed25519 key is made by
// WebCrypto in this browser and kept in localStorage.
const NAME = 'Sandbox wallet — simulated, no real funds';
const STORE = 'dca.sandboxWallet';
const CHAIN = 'solana:mainnet';
const ICON = 'data:image/svg+xml;base64,' + btoa(
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#5b4bdb"/>' +
  '<path d="M9 11h14M9 16h14M9 21h14" stroke="#fff" stroke-width="2.5" stroke-linecap="round"/></svg>');
const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

function base58(bytes) {
  let n = 0n;
  for (const b of bytes) n = n * 256n + BigInt(b);
  let s = '';
  for (; n > 0n; n /= 58n) s = B58[Number(n % 58n)] + s;
  for (const b of bytes) { if (b) break; s = '1' + s; }
  return s;
}
const toB64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)));
const fromB64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

let key = null;
let account = null;
const state = () => JSON.parse(localStorage.getItem(STORE) || 'null');
const save = (s) => localStorage.setItem(STORE, JSON.stringify(s));
const listeners = new Set();
const emit = () => listeners.forEach((l) => l({ accounts: wallet.accounts }));

async function load() {
  if (key) return;
  let s = state();
  if (!s) {
    const pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']);
    s = {
      pkcs8: toB64(await crypto.subtle.exportKey('pkcs8', pair.privateKey)),
      raw: toB64(await crypto.subtle.exportKey('raw', pair.publicKey)),
      connected: false,
    };
    save(s);
  }
  key = await crypto.subtle.importKey('pkcs8', fromB64(s.pkcs8), { name: 'Ed25519' }, false, ['sign']);
  const publicKey = fromB64(s.raw);
  account = Object.freeze({
    address: base58(publicKey), publicKey, chains: [CHAIN], label: 'Sandbox', icon: ICON,
    features: ['solana:signIn', 'solana:signMessage', 'solana:signTransaction'],
  });
}
const sign = async (bytes) => new Uint8Array(await crypto.subtle.sign('Ed25519', key, bytes));

async function connectAccount() {
  await load();
  save({ ...state(), connected: true });
  emit();
  return account;
}

function siwsText(i) {
  let t = `${i.domain} wants you to sign in with your Solana account:\n${i.address}`;
  if (i.statement) t += `\n\n${i.statement}`;
  const f = [['URI', 'uri'], ['Version', 'version'], ['Chain ID', 'chainId'], ['Nonce', 'nonce'],
    ['Issued At', 'issuedAt'], ['Expiration Time', 'expirationTime'], ['Not Before', 'notBefore'],
    ['Request ID', 'requestId']].filter(([, k]) => i[k]).map(([label, k]) => `${label}: ${i[k]}`);
  if (i.resources?.length) f.push('Resources:' + i.resources.map((r) => `\n- ${r}`).join(''));
  return f.length ? `${t}\n\n${f.join('\n')}` : t;
}

function compactU16(bytes, at) {
  let value = 0;
  for (let i = 0; i < 3; i++) {
    const b = bytes[at + i];
    value |= (b & 0x7f) << (7 * i);
    if (!(b & 0x80)) return [value, i + 1];
  }
  throw new Error('Malformed transaction.');
}

// Sign the message (after the signature count and slots); write into our own slot.
async function signTx(tx) {
  const [count, len] = compactU16(tx, 0);
  const message = tx.subarray(len + 64 * count);
  let p = message[0] & 0x80 ? 1 : 0; // v0 messages start with a version prefix
  const required = message[p];
  p += 3;
  const [keys, klen] = compactU16(message, p);
  p += klen;
  for (let i = 0; i < Math.min(required, keys, count); i++) {
    const k = message.subarray(p + 32 * i, p + 32 * i + 32);
    if (k.every((b, j) => b === account.publicKey[j])) {
      const out = tx.slice();
      out.set(await sign(message), len + 64 * i);
      return out;
    }
  }
  throw new Error('This transaction does not need the sandbox wallet\'s signature.');
}

const wallet = Object.freeze({
  version: '1.0.0',
  name: NAME,
  icon: ICON,
  chains: [CHAIN],
  get accounts() { return account && state()?.connected ? [account] : []; },
  features: {
    'standard:connect': {
      version: '1.0.0',
      async connect({ silent } = {}) {
        if (silent && !state()?.connected) return { accounts: [] };
        return { accounts: [await connectAccount()] };
      },
    },
    'standard:disconnect': {
      version: '1.0.0',
      async disconnect() { save({ ...state(), connected: false }); emit(); },
    },
    'standard:events': {
      version: '1.0.0',
      on(event, listener) {
        if (event !== 'change') return () => {};
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    },
    'solana:signIn': {
      version: '1.0.0',
      signIn: (...inputs) => Promise.all(inputs.map(async (input = {}) => {
        await connectAccount();
        const text = siwsText({ ...input, domain: input.domain || location.host, address: account.address });
        const signedMessage = new TextEncoder().encode(text);
        return { account, signedMessage, signature: await sign(signedMessage), signatureType: 'ed25519' };
      })),
    },
    'solana:signMessage': {
      version: '1.0.0',
      signMessage: (...inputs) => Promise.all(inputs.map(async ({ message }) => {
        await load();
        return { signedMessage: message, signature: await sign(message), signatureType: 'ed25519' };
      })),
    },
    'solana:signTransaction': {
      version: '1.0.0',
      supportedTransactionVersions: ['legacy', 0],
      signTransaction: (...inputs) => Promise.all(inputs.map(async ({ transaction }) => {
        await load();
        return { signedTransaction: await signTx(transaction) };
      })),
    },
  },
});

const callback = ({ register }) => register(wallet);
dispatchEvent(new CustomEvent('wallet-standard:register-wallet', { detail: callback }));
addEventListener('wallet-standard:app-ready', ({ detail }) => callback(detail));
