// The signing core of a simulated Solana wallet (Wallet Standard), shared by the sandbox wallet
// (wallet.js beside this file, which asks the trader on an approval sheet) and the browser tests'
// wallet (tests/browser/wallet.js, which answers by itself). Everything a wallet must get right
// lives here once: the Sign-In With Solana text, reading a wire transaction (compact-u16
// lengths, signer slots), Ed25519 signing with WebCrypto, and the words of an approval.
//
// A classic script (not a module) so a test can inject it before any page script runs; it
// defines one global, window.SandboxWalletCore = {createWallet, register, signInText, readTransaction,
// describeTransaction, tokenAccounts, base58, rejected}.
(() => {
  if (globalThis.SandboxWalletCore) return;
  const CHAIN = 'solana:mainnet';
  const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
  const DCA_PROGRAM = 'DCA265Vj8a9CEuX1eb1LWRnDT7uK6q1xMipnNyatn23M';
  const COMPUTE_BUDGET = 'ComputeBudget111111111111111111111111111111';
  const MEMO_PROGRAMS = ['MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr', 'Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo'];
  const TOKEN_PROGRAMS = ['TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA', 'TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb'];
  const LAMPORTS_PER_SIGNATURE = 5000;
  const DEFAULT_UNITS = 200000; // per instruction, when no SetComputeUnitLimit says otherwise
  const MAX_UNITS = 1400000;

  function base58(bytes) {
    let n = 0n;
    for (const b of bytes) n = n * 256n + BigInt(b);
    let s = '';
    for (; n > 0n; n /= 58n) s = B58[Number(n % 58n)] + s;
    for (const b of bytes) { if (b) break; s = '1' + s; }
    return s;
  }
  const short = (address) => `${address.slice(0, 4)}…${address.slice(-4)}`;

  // What the trader declines: the error wallets give (EIP-1193 style code 4001).
  const rejected = () => Object.assign(new Error('User rejected the request.'), { code: 4001 });

  // The Sign-In With Solana text, fields in the fixed order of the spec; absent fields left out.
  function signInText(i) {
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
      if (b === undefined) break;
      value |= (b & 0x7f) << (7 * i);
      if (!(b & 0x80)) return [value, i + 1];
    }
    throw new Error('Malformed transaction.');
  }

  // A wire transaction, read as far as a wallet needs: its signature slots, the signed message
  // (everything after the slots), the signers, every account key, the blockhash and instructions.
  function readTransaction(tx) {
    const [count, countLength] = compactU16(tx, 0);
    const messageAt = countLength + 64 * count;
    const message = tx.subarray(messageAt);
    let p = message[0] & 0x80 ? 1 : 0; // v0 messages start with a version prefix
    const version = p ? 0 : 'legacy';
    const required = message[p];
    p += 3;
    const [keyCount, keyLength] = compactU16(message, p);
    p += keyLength;
    const keys = [];
    for (let i = 0; i < keyCount; i++) keys.push(message.subarray(p + 32 * i, p + 32 * i + 32));
    p += 32 * keyCount;
    const blockhashAt = p;
    p += 32;
    const [ixCount, ixLength] = compactU16(message, p);
    p += ixLength;
    const instructions = [];
    for (let n = 0; n < ixCount; n++) {
      const program = message[p];
      p += 1;
      const [accountCount, accountLength] = compactU16(message, p);
      p += accountLength;
      const accounts = Array.from(message.subarray(p, p + accountCount));
      p += accountCount;
      const [dataLength, dataLengthLength] = compactU16(message, p);
      p += dataLengthLength;
      instructions.push({ program, accounts, data: message.subarray(p, p + dataLength) });
      p += dataLength;
    }
    if (p > message.length) throw new Error('Malformed transaction.');
    return { count, countLength, messageAt, message, version, required, keys, blockhashAt, instructions };
  }

  const littleEndian = (bytes, at, size) => {
    let n = 0n;
    for (let i = size - 1; i >= 0; i--) n = n * 256n + BigInt(bytes[at + i] ?? 0);
    return n;
  };
  const sol = (lamports) => {
    const text = (Number(lamports) / 1e9).toFixed(9).replace(/0+$/, '').replace(/\.$/, '');
    return `${text} SOL`;
  };

  // A token amount in whole tokens: 150000000 base units of a 6-decimal token read "150".
  const tokenAmount = (raw, decimals) => {
    const digits = raw.toString().padStart(decimals + 1, '0');
    const whole = BigInt(digits.slice(0, digits.length - decimals)).toLocaleString('en-US');
    const fraction = digits.slice(digits.length - decimals).replace(/0+$/, '');
    return fraction ? `${whole}.${fraction}` : whole;
  };

  // The token accounts a transaction's token instructions touch (what a wallet looks up).
  function tokenAccounts(tx) {
    const t = readTransaction(tx);
    const addresses = t.keys.map(base58);
    return [...new Set(t.instructions.filter((ix) => TOKEN_PROGRAMS.includes(addresses[ix.program]))
      .flatMap((ix) => ix.accounts.slice(0, 3).map((n) => addresses[n]).filter(Boolean)))];
  }

  // What a transaction does, in words for the approval sheet: its actions and its fee. `known`
  // says what the wallet found out about token accounts and mints ({address: {symbol, decimals,
  // owner}}, see tokenAccounts), `me` the signing account's address: "Move 150 USDC from 5fmF… to
  // your wallet"; without them, the base units as they are.
  function describeTransaction(tx, known = {}, me = '') {
    const t = readTransaction(tx);
    const addresses = t.keys.map(base58);
    const address = (index) => addresses[index] || 'an account in a lookup table';
    let limit = null;
    let microLamports = 0n;
    const actions = [];
    let others = 0;
    for (const ix of t.instructions) {
      const program = address(ix.program);
      if (program === COMPUTE_BUDGET) {
        if (ix.data[0] === 2) limit = Number(littleEndian(ix.data, 1, 4));
        if (ix.data[0] === 3) microLamports = littleEndian(ix.data, 1, 8);
        continue;
      }
      others += 1;
      const account = (n) => (ix.accounts.length > n ? short(address(ix.accounts[n])) : 'an account');
      const holder = (n) => { // the wallet itself, or the owner of a token account
        const a = address(ix.accounts[n]);
        const owner = a === me ? a : known[a]?.owner;
        return owner === me && me ? 'your wallet' : owner ? short(owner) : account(n);
      };
      if (program === DCA_PROGRAM) {
        actions.push(`Close DCA order ${account(1)} and send what it holds to your wallet`);
      } else if (MEMO_PROGRAMS.includes(program)) {
        const text = textOf(ix.data);
        actions.push(text === null ? 'Write a memo' : `Memo: “${text}”`);
      } else if (TOKEN_PROGRAMS.includes(program) && (ix.data[0] === 3 || ix.data[0] === 12)) {
        const raw = littleEndian(ix.data, 1, 8);
        const checked = ix.data[0] === 12; // TransferChecked names the mint and its decimals
        const to = checked ? 2 : 1;
        const token = checked ? known[address(ix.accounts[1])] : known[address(ix.accounts[0])] || known[address(ix.accounts[1])];
        const decimals = checked ? ix.data[9] : token?.decimals;
        actions.push(token && decimals !== undefined
          ? `Move ${tokenAmount(raw, decimals)} ${token.symbol} from ${holder(0)} to ${holder(to)}`
          : `Move ${raw} base units of ${checked ? `token ${account(1)}` : 'a token'} from ${holder(0)} to ${holder(to)}`);
      } else if (TOKEN_PROGRAMS.includes(program) && ix.data[0] === 9) {
        const token = known[address(ix.accounts[0])];
        actions.push(`Close ${token ? `the ${token.symbol} account of ${holder(0)}` : `token account ${account(0)}`}; its rent goes to ${holder(1)}`);
      } else {
        actions.push(`Run program ${short(program)}`);
      }
    }
    const units = limit ?? Math.min(DEFAULT_UNITS * Math.max(others, 1), MAX_UNITS);
    const priority = (microLamports * BigInt(units) + 999999n) / 1000000n;
    const base = BigInt(LAMPORTS_PER_SIGNATURE * t.required);
    let fee = `Network fee ≈ ${sol(base)}`;
    if (priority > 0n) fee += ` + priority fee ≈ ${sol(priority)}`;
    return { actions, fee, feePayer: addresses[0] || '' };
  }

  // Sign the message bytes (everything after the slots) into the account's own slot.
  async function signInto(tx, publicKey, sign) {
    const t = readTransaction(tx);
    for (let i = 0; i < Math.min(t.required, t.keys.length, t.count); i++) {
      if (t.keys[i].every((b, j) => b === publicKey[j])) {
        const out = tx.slice();
        out.set(await sign(out.subarray(t.messageAt)), t.countLength + 64 * i);
        return out;
      }
    }
    throw new Error('This transaction does not need this wallet\'s signature.');
  }

  const textOf = (bytes) => {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      return null;
    }
  };

  /**
   * A Wallet Standard wallet.
   * options: {
   *   name, icon,
   *   accounts: () => Promise<[{address, publicKey: Uint8Array, sign: (bytes) => Promise<Uint8Array>}]>,
   *   approve: (request) => Promise<boolean>   // false declines (code 4001); a throw is the wallet's
   *                                             // own error, passed on; it may never settle
   *   signIn: true|false                        // offer solana:signIn (default true)
   *   transform: async (tx, reading, account) => ({tx, signer})  // tests only: misbehave
   *   remember: {get: () => bool, set: (bool) => void}  // whether the site is connected
   *   record: (name) => void                    // tests: every call, e.g. 'connect(silent)'
   *   versions: ['legacy', 0]                   // supportedTransactionVersions
   *   lookup: async (addresses, owner) => known // what an RPC says of token accounts (describeTransaction)
   *   without: [feature names]                  // tests: features left out
   * }
   * request: {kind: 'signIn'|'signMessage'|'signTransaction', title, lines: [string], detail?, account}
   */
  function createWallet(options) {
    const listeners = new Set();
    const record = (name) => options.record?.(name);
    let list = [];
    let current = 0;
    let connected = options.remember ? options.remember.get() : false;
    const setConnected = (value) => {
      connected = value;
      options.remember?.set(value);
    };
    const emit = () => listeners.forEach((l) => l({ accounts: wallet.accounts }));

    async function load() {
      if (!list.length) {
        list = (await options.accounts()).map((a) => {
          const account = Object.freeze({
            address: a.address, publicKey: a.publicKey, chains: [CHAIN], label: a.label || '',
            features: ['solana:signIn', 'solana:signMessage', 'solana:signTransaction'],
          });
          return { account, sign: a.sign };
        });
      }
      return list;
    }
    const active = async () => (await load())[current];
    const mine = (account) => {
      const entry = list.find((e) => e.account === account);
      if (!entry) throw new Error('Unknown account: pass the account object this wallet returned.');
      return entry;
    };
    async function ask(request) {
      if (!(await options.approve(request))) throw rejected();
    }
    const site = () => location.host;

    const features = {
      'standard:connect': {
        version: '1.0.0',
        async connect({ silent } = {}) {
          record(silent ? 'connect(silent)' : 'connect');
          if (silent && !connected) return { accounts: [] };
          await load();
          setConnected(true);
          emit();
          return { accounts: wallet.accounts };
        },
      },
      'standard:disconnect': {
        version: '1.0.0',
        async disconnect() { setConnected(false); emit(); },
      },
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
          await load();
          const entry = mine(account);
          const text = textOf(message);
          const from = text && /Jupiter/.test(text) ? 'Jupiter' : site();
          await ask({
            kind: 'signMessage',
            title: `Sign a message from ${from}`,
            lines: [`${site()} asks your wallet to sign this message. Signing costs nothing and sends nothing.`],
            detail: text ?? `${message.length} bytes that are not text`,
            account,
          });
          return { signedMessage: message, signature: await entry.sign(message), signatureType: 'ed25519' };
        })),
      },
      'solana:signTransaction': {
        version: '1.0.0',
        supportedTransactionVersions: options.versions || ['legacy', 0],
        signTransaction: (...inputs) => Promise.all(inputs.map(async ({ account, transaction }) => {
          record('signTransaction');
          await load();
          const entry = mine(account);
          let words;
          try {
            const known = await (options.lookup?.(tokenAccounts(transaction), entry.account.address) ?? {});
            words = describeTransaction(transaction, known, entry.account.address);
          } catch {
            throw new Error('The sandbox wallet cannot read this transaction.');
          }
          await ask({
            kind: 'signTransaction',
            title: 'Approve a transaction',
            lines: [...words.actions, words.fee, `Requested by ${site()}.`],
            account,
          });
          let tx = transaction;
          let signer = entry;
          if (options.transform) ({ tx, signer } = await options.transform(transaction, readTransaction(transaction), entry, list));
          return { signedTransaction: await signInto(tx, entry.account.publicKey, signer.sign) };
        })),
      },
    };
    if (options.signIn !== false) {
      features['solana:signIn'] = {
        version: '1.0.0',
        signIn: (...inputs) => Promise.all(inputs.map(async (input = {}) => {
          record('signIn');
          const { account, sign } = await active();
          const domain = input.domain || site();
          await ask({
            kind: 'signIn',
            title: `Sign in to ${domain}`,
            lines: [input.statement || '', 'This proves the wallet is yours. It sends nothing and costs nothing.'].filter(Boolean),
            account,
          });
          setConnected(true);
          const signedMessage = new TextEncoder().encode(signInText({ ...input, domain, address: account.address }));
          return { account, signedMessage, signature: await sign(signedMessage), signatureType: 'ed25519' };
        })),
      };
    }

    for (const name of options.without || []) delete features[name];

    const wallet = Object.freeze({
      version: '1.0.0',
      name: options.name,
      icon: options.icon,
      chains: [CHAIN],
      features,
      get accounts() { return connected && list[current] ? [list[current].account] : []; },
    });
    return {
      wallet,
      // For tests: another account, or the wallet disconnecting by itself.
      async switchAccount() { await load(); current = (current + 1) % list.length; emit(); },
      disconnect() { setConnected(false); emit(); },
    };
  }

  // Both sides of the Wallet Standard handshake: either load order works.
  function register(wallet) {
    const callback = ({ register: add }) => add(wallet);
    dispatchEvent(new CustomEvent('wallet-standard:register-wallet', { detail: callback }));
    addEventListener('wallet-standard:app-ready', ({ detail }) => callback(detail));
  }

  globalThis.SandboxWalletCore = Object.freeze({
    createWallet, register, signInText, readTransaction, describeTransaction, tokenAccounts, base58, rejected,
  });
})();
