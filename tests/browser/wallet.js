// A Wallet Standard test wallet, injected with Playwright's add_init_script after an
// init script that sets window.__testWallet = {name, signIn, decline, accounts: [{address,
// publicKey (base64), pkcs8 (base64)}, …]}. Signing uses WebCrypto Ed25519.
// Controls for tests: __testWallet.switchAccount(), __testWallet.disconnect(), __testWallet.calls,
// __testWallet.asked(name) (resolves once the wallet was asked for `name`, e.g. 'signIn'),
// and __testWallet.tamper = 'blockhash' | 'wrongKey' to misbehave when signing a transaction.
// Test-only modes (options): decline (every signing call throws code 4001 with declineMessage),
// hang (signing calls never answer), without: [feature names] (left out), versions (the
// supportedTransactionVersions of solana:signTransaction; default ['legacy', 0]).
(() => {
  const opts = window.__testWallet || {};
  const CHAIN = 'solana:mainnet';
  const ICON = 'data:image/svg+xml;base64,' + btoa(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><circle cx="4" cy="4" r="4" fill="#0a7"/></svg>');
  const fromB64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const calls = [];
  const waiters = [];
  const record = (name) => {
    calls.push(name);
    waiters.filter((w) => w.name === name).forEach((w) => w.resolve());
  };
  const listeners = new Set();
  const accounts = (opts.accounts || []).map((a) => Object.freeze({
    address: a.address, publicKey: fromB64(a.publicKey), chains: [CHAIN],
    features: ['solana:signMessage', 'solana:signTransaction'], pkcs8: a.pkcs8,
  }));
  let current = 0;
  let connected = false;
  const emit = () => listeners.forEach((l) => l({ accounts: wallet.accounts }));
  const reject = async () => {
    if (opts.hang) await new Promise(() => {}); // a wallet that never answers
    if (opts.decline) throw Object.assign(new Error(opts.declineMessage || 'User rejected the request.'), { code: 4001 });
  };
  const sign = async (acct, bytes) => {
    const key = await crypto.subtle.importKey('pkcs8', fromB64(acct.pkcs8), { name: 'Ed25519' }, false, ['sign']);
    return new Uint8Array(await crypto.subtle.sign('Ed25519', key, bytes));
  };
  const siwsText = (i) => {
    let t = `${i.domain} wants you to sign in with your Solana account:\n${i.address}`;
    if (i.statement) t += `\n\n${i.statement}`;
    const f = [['URI', 'uri'], ['Version', 'version'], ['Chain ID', 'chainId'], ['Nonce', 'nonce'],
      ['Issued At', 'issuedAt'], ['Expiration Time', 'expirationTime']]
      .filter(([, k]) => i[k]).map(([label, k]) => `${label}: ${i[k]}`);
    return f.length ? `${t}\n\n${f.join('\n')}` : t;
  };
  const compactU16 = (b, at) => {
    let v = 0;
    for (let i = 0; i < 3; i++) {
      v |= (b[at + i] & 0x7f) << (7 * i);
      if (!(b[at + i] & 0x80)) return [v, i + 1];
    }
    throw new Error('Malformed transaction.');
  };

  const features = {
    'standard:connect': {
      version: '1.0.0',
      async connect({ silent } = {}) {
        record(silent ? 'connect(silent)' : 'connect');
        connected = true;
        return { accounts: wallet.accounts };
      },
    },
    'standard:disconnect': { version: '1.0.0', async disconnect() { connected = false; emit(); } },
    'standard:events': {
      version: '1.0.0',
      on(event, listener) {
        if (event !== 'change') return () => {};
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    },
    'solana:signMessage': {
      version: '1.0.0',
      signMessage: (...inputs) => Promise.all(inputs.map(async ({ account, message }) => {
        record('signMessage');
        await reject();
        if (!accounts.includes(account)) throw new Error('Unknown account object.');
        return { signedMessage: message, signature: await sign(account, message) };
      })),
    },
    'solana:signTransaction': {
      version: '1.0.0',
      supportedTransactionVersions: opts.versions || ['legacy', 0],
      signTransaction: (...inputs) => Promise.all(inputs.map(async ({ account, transaction }) => {
        record('signTransaction');
        await reject();
        if (!accounts.includes(account)) throw new Error('Unknown account object.');
        const [count, len] = compactU16(transaction, 0);
        const message = transaction.subarray(len + 64 * count);
        let p = (message[0] & 0x80 ? 1 : 0);
        const required = message[p];
        p += 3;
        const [keys, klen] = compactU16(message, p);
        p += klen;
        for (let i = 0; i < Math.min(required, keys, count); i++) {
          if (message.subarray(p + 32 * i, p + 32 * i + 32).every((b, j) => b === account.publicKey[j])) {
            const out = transaction.slice();
            // Misbehaving wallets, for tests: change the blockhash, or sign with another key.
            if (opts.tamper === 'blockhash') out[len + 64 * count + p + 32 * keys] ^= 0xff;
            const signer = opts.tamper === 'wrongKey' ? accounts[(current + 1) % accounts.length] : account;
            out.set(await sign(signer, out.subarray(len + 64 * count)), len + 64 * i);
            return { signedTransaction: out };
          }
        }
        throw new Error('Not a signer of this transaction.');
      })),
    },
  };
  if (opts.signIn !== false) {
    features['solana:signIn'] = {
      version: '1.0.0',
      signIn: (...inputs) => Promise.all(inputs.map(async (input = {}) => {
        record('signIn');
        await reject();
        connected = true;
        const account = accounts[current];
        const text = siwsText({ ...input, domain: input.domain || location.host, address: account.address });
        const signedMessage = new TextEncoder().encode(text);
        return { account, signedMessage, signature: await sign(account, signedMessage) };
      })),
    };
  }

  for (const name of opts.without || []) delete features[name];

  const wallet = Object.freeze({
    version: '1.0.0',
    name: opts.name || 'Test Wallet',
    icon: ICON,
    chains: [CHAIN],
    features,
    get accounts() { return connected && accounts[current] ? [accounts[current]] : []; },
  });

  Object.assign(opts, {
    calls,
    asked: (name) => (calls.includes(name) ? Promise.resolve() : new Promise((resolve) => waiters.push({ name, resolve }))),
    switchAccount() { current = (current + 1) % accounts.length; emit(); },
    disconnect() { connected = false; emit(); },
  });
  window.__testWallet = opts;

  const callback = ({ register }) => register(wallet);
  window.dispatchEvent(new CustomEvent('wallet-standard:register-wallet', { detail: callback }));
  window.addEventListener('wallet-standard:app-ready', ({ detail }) => callback(detail));
})();
