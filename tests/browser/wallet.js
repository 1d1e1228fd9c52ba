// The browser tests' wallet: the sandbox wallet's own signing core (wallet-core.js, injected just
// before this file) with test-only ways of answering instead of an approval sheet. Injected with
// Playwright's add_init_script after an init script that sets
//   window.__testWallet = {name, signIn, mode, decline, declineMessage, hang, tamper, without,
//                          versions, accounts: [{address, publicKey, pkcs8}, …]}
// (publicKey and pkcs8 base64). Modes (changeable at any time through window.__testWallet):
//   mode "approve" (default) answers yes at once; mode "decline" (or decline: true) answers no
//   (code 4001, "User rejected the request." or declineMessage); mode "never" (or hang: true)
//   never answers, like a wallet popup left open; mode "hold" waits until the test calls
//   __testWallet.answer(true|false). without: [features] leaves them out; versions sets
//   solana:signTransaction's supportedTransactionVersions (default ['legacy', 0]).
// Also: __testWallet.calls (every call, e.g. "connect(silent)", "signTransaction"),
// __testWallet.asked(name) (resolves once the wallet was asked for `name`),
// __testWallet.requests (what each approval showed: {kind, title, lines}),
// __testWallet.switchAccount(), __testWallet.disconnect(), and
// __testWallet.tamper = "blockhash" | "wrongKey" to misbehave when signing a transaction.
(() => {
  const opts = window.__testWallet || {};
  const core = window.SandboxWalletCore;
  const fromB64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const ICON = 'data:image/svg+xml;base64,' + btoa(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><circle cx="4" cy="4" r="4" fill="#0a7"/></svg>');
  const calls = [];
  const requests = [];
  const waiting = [];
  const waiters = [];
  const record = (name) => {
    calls.push(name);
    waiters.filter((w) => w.name === name).forEach((w) => w.resolve());
  };

  const accounts = async () => Promise.all((opts.accounts || []).map(async (a) => {
    const key = await crypto.subtle.importKey('pkcs8', fromB64(a.pkcs8), { name: 'Ed25519' }, false, ['sign']);
    return {
      address: a.address,
      publicKey: fromB64(a.publicKey),
      sign: async (bytes) => new Uint8Array(await crypto.subtle.sign('Ed25519', key, bytes)),
    };
  }));

  function approve(request) {
    requests.push({ kind: request.kind, title: request.title, lines: request.lines, detail: request.detail || '' });
    const mode = opts.hang ? 'never' : opts.decline ? 'decline' : opts.mode || 'approve';
    if (mode === 'decline' && opts.declineMessage) {
      return Promise.reject(Object.assign(new Error(opts.declineMessage), { code: 4001 }));
    }
    if (mode === 'decline') return Promise.resolve(false);
    if (mode === 'never') return new Promise(() => {});
    if (mode === 'hold') return new Promise((resolve) => waiting.push(resolve));
    return Promise.resolve(true);
  }

  // Misbehaving wallets: change the blockhash before signing, or sign with the other account.
  async function transform(tx, reading, entry, all) {
    if (opts.tamper === 'blockhash') {
      const out = tx.slice();
      out[reading.messageAt + reading.blockhashAt] ^= 0xff;
      return { tx: out, signer: entry };
    }
    if (opts.tamper === 'wrongKey') return { tx, signer: all[(all.indexOf(entry) + 1) % all.length] };
    return { tx, signer: entry };
  }

  const made = core.createWallet({
    name: opts.name || 'Test Wallet',
    icon: ICON,
    accounts,
    approve,
    transform,
    signIn: opts.signIn !== false,
    versions: opts.versions || undefined,
    without: opts.without || [],
    record,
  });

  Object.assign(opts, {
    calls,
    requests,
    asked: (name) => (calls.includes(name) ? Promise.resolve() : new Promise((resolve) => waiters.push({ name, resolve }))),
    answer(approved) { for (const resolve of waiting.splice(0)) resolve(approved); },
    switchAccount: made.switchAccount,
    disconnect: made.disconnect,
  });
  window.__testWallet = opts;
  core.register(made.wallet);
})();
