// wsauth-client against a real wsauth-local (the binary), in Node with the `ws` package.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { createClient, WsauthError } from '../index.js';
import { startLocal, next, sleep } from './support.mjs';

const here = dirname(fileURLToPath(import.meta.url));
/** Runs `script` as an ES module in a fresh Node process: its exit code (or why it was killed)
 * and its output. A process that does not exit by itself within 15 s is killed. */
async function runModule(script) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: here, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b) => { out += b; });
  child.stderr.on('data', (b) => { out += b; });
  const code = await new Promise((res) => {
    const t = setTimeout(() => { child.kill('SIGKILL'); res('still running after 15 s'); }, 15000);
    child.once('exit', (c) => { clearTimeout(t); res(c); });
  });
  return { code, out };
}

let local;
before(async () => { local = await startLocal(); });
after(async () => { await local?.stop(); });

const clientFor = (sub, extra = {}) => {
  const calls = { tokens: 0 };
  const client = createClient({
    url: local.url,
    getToken: async () => { calls.tokens += 1; return local.token(sub); },
    WebSocket,
    reconnect: { minDelayMs: 100, maxDelayMs: 1000 },
    ...extra,
  });
  return { client, calls };
};

test('connects with a token provider; whoami, sendToUser and a push arrive', async () => {
  const { client: alice } = clientFor('alice');
  const { client: bob } = clientFor('bob');
  try {
    await Promise.all([alice.ready, bob.ready]);
    assert.equal(alice.state, 'open');
    const who = await alice.whoami();
    assert.equal(who.userId, 'alice');
    assert.equal(who.type, 'whoami');
    const got = next(bob, 'message');
    const sent = await alice.sendToUser('bob', { hi: 1 });
    assert.equal(sent.delivered, 1);
    assert.deepEqual((await got), { type: 'message', from: 'alice', data: { hi: 1 } });
    const pushed = next(bob, 'message', (m) => m.from === '$server');
    const r = await local.push({ op: 'sendToUser', userId: 'bob', data: 'from the backend' });
    assert.equal(r.status, 200);
    assert.equal((await pushed).data, 'from the backend');
    await assert.rejects(alice.request('nope'), (e) => e instanceof WsauthError && e.code === 'unknown_action');
  } finally {
    alice.close();
    bob.close();
  }
});

test('50 concurrent requests each get their own reply', async () => {
  const { client } = clientFor('carol');
  try {
    await client.ready;
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => client.request('sendToUser', { to: `user-${i}`, data: i })),
    );
    replies.forEach((r, i) => {
      assert.equal(r.type, 'sent');
      assert.equal(r.to, `user-${i}`, 'the reply of this very request');
    });
    assert.equal(new Set(replies.map((r) => r.id)).size, 50);
  } finally {
    client.close();
  }
});

test('a session whose first token lives 5 s is still open and authorized 15 s later (refresh)', async () => {
  const short = await startLocal({ WSAUTH_LEEWAY_SECONDS: '0' });
  const states = [];
  let tokens = 0;
  const client = createClient({
    url: short.url,
    getToken: async () => { tokens += 1; return short.token('dave', { ttl: 5 }); },
    WebSocket,
    refreshBeforeSeconds: 60,
  });
  client.on('state', (s) => states.push(s));
  try {
    await client.ready;
    const first = await client.whoami();
    await sleep(15000);
    const later = await client.whoami();
    assert.equal(later.connectionId, first.connectionId, 'the same connection');
    assert.ok(later.expiresAt > first.expiresAt, 'renewed');
    assert.ok(tokens >= 4, `tokens fetched: ${tokens}`);
    assert.deepEqual(states, ['open'], 'never dropped');
  } finally {
    client.close();
    await short.stop();
  }
});

test('after disconnectUser the client reconnects by itself with a new token', async () => {
  const { client, calls } = clientFor('erin');
  try {
    await client.ready;
    const before = await client.whoami();
    const tokensBefore = calls.tokens;
    const reconnecting = next(client, 'state', (s) => s === 'reconnecting');
    const r = await local.push({ op: 'disconnectUser', userId: 'erin' });
    assert.deepEqual(r.body, { disconnected: 1 });
    await reconnecting;
    await next(client, 'state', (s) => s === 'open');
    const after = await client.whoami();
    assert.notEqual(after.connectionId, before.connectionId);
    assert.ok(calls.tokens > tokensBefore, 'a fresh token');
  } finally {
    client.close();
  }
});

test('with every token refused, attempts back off: no more than 6 in 10 s', async () => {
  let attempts = 0;
  const client = createClient({
    url: local.url,
    getToken: () => { attempts += 1; return 'not.a.token'; },
    WebSocket,
  });
  try {
    await sleep(10000);
    assert.ok(attempts >= 3, `it keeps trying (${attempts})`);
    assert.ok(attempts <= 6, `backed off (${attempts} attempts)`);
    assert.equal(client.state, 'reconnecting');
  } finally {
    client.close();
  }
  await assert.rejects(client.ready, (e) => e.code === 'closed');
});

test('close() leaves no timer or socket behind: the process exits by itself', async () => {
  const token = await local.token('frank');
  const script = `
    import WebSocket from 'ws';
    import { createClient } from ${JSON.stringify(join(here, '../index.js'))};
    const c = createClient({ url: ${JSON.stringify(local.url)}, getToken: () => ${JSON.stringify(token)}, WebSocket,
      refreshBeforeSeconds: 60, requestTimeoutMs: 60000 });
    await c.ready;
    await c.whoami();
    c.request('ping').catch(() => {});
    c.close();
    console.log('closed');
  `;
  const { code, out } = await runModule(script);
  assert.equal(code, 0, out);
  assert.match(out, /closed/);
});

test('close() while the handshake hangs (a server that never upgrades) ends cleanly', async () => {
  // A TCP server that accepts and never answers: the client is mid-handshake when closed.
  const script = `
    import net from 'node:net';
    import WebSocket from 'ws';
    import { createClient } from ${JSON.stringify(join(here, '../index.js'))};
    const server = net.createServer(() => {}).listen(0, '127.0.0.1', async () => {
      const url = 'ws://127.0.0.1:' + server.address().port + '/dev';
      const c = createClient({ url, getToken: () => 't', WebSocket, requestTimeoutMs: 60000 });
      await new Promise((r) => setTimeout(r, 300));
      c.close();
      server.close();
      server.unref();
      await c.ready.catch((e) => console.log('ready:', e.code));
    });
  `;
  const { code, out } = await runModule(script);
  assert.equal(code, 0, out);
  assert.match(out, /ready: closed/);
});

test('a handshake that never completes is abandoned after the request timeout and retried', async () => {
  const { createServer } = await import('node:net');
  const server = createServer(() => {}).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  let tokens = 0;
  const client = createClient({
    url: `ws://127.0.0.1:${server.address().port}/dev`,
    getToken: () => { tokens += 1; return 't'; },
    WebSocket,
    requestTimeoutMs: 300,
    reconnect: { minDelayMs: 50, maxDelayMs: 100 },
  });
  try {
    await sleep(1500);
    assert.ok(tokens >= 2, `abandoned and retried (${tokens} attempts)`);
    assert.equal(client.state, 'reconnecting');
  } finally {
    client.close();
    server.close();
  }
});

test('requests time out with a clear error, and bad arguments are refused', async () => {
  // A WebSocket that opens and answers the client's own whoami, and nothing else.
  class Silent {
    constructor() { this.readyState = 0; setTimeout(() => { this.readyState = 1; this.onopen?.({}); }, 1); }
    send(frame) {
      const m = JSON.parse(frame);
      if (m.action !== 'whoami') return;
      const reply = { type: 'whoami', userId: 'u', connectionId: 'c', scopes: [], expiresAt: Date.now() / 1000 + 3600, id: m.id };
      setTimeout(() => this.onmessage?.({ data: JSON.stringify(reply) }), 1);
    }
    close() { this.readyState = 3; }
  }
  const client = createClient({ url: 'ws://127.0.0.1:9/dev', getToken: () => 't', WebSocket: Silent, requestTimeoutMs: 50 });
  try {
    await client.ready;
    await assert.rejects(client.request('chat', { text: 'hi' }), (e) => e instanceof WsauthError && e.code === 'timeout');
    await assert.rejects(client.request(''), TypeError);
    await assert.rejects(client.request('chat', ['not', 'an', 'object']), TypeError);
  } finally {
    client.close();
  }
  assert.equal(client.state, 'closed');
  await assert.rejects(client.whoami(), (e) => e.code === 'closed');
  assert.throws(() => createClient({ url: 'http://x', getToken: () => 't', WebSocket: Silent }), TypeError);
  assert.throws(() => createClient({ url: 'ws://localhost/dev', getToken: () => 't', WebSocket: Silent, tokenSource: 'cookie' }), TypeError);
  assert.throws(() => createClient({ url: 'ws://localhost/dev', getToken: () => 't', WebSocket: Silent, requestTimeoutMs: NaN }), TypeError);
  assert.throws(() => createClient({ url: 'ws://localhost/dev', getToken: () => 't', WebSocket: Silent, reconnect: { minDelayMs: -1 } }), TypeError);
});

test('plain ws:// to a host that is not loopback is refused at createClient unless allowInsecure', async () => {
  // Records every socket the client opens; never opens one (no network).
  const opened = [];
  class Recorder {
    constructor(url, protocols) { opened.push({ url, protocols }); this.readyState = 0; }
    send() {}
    close() { this.readyState = 3; }
  }
  let tokens = 0;
  const getToken = () => { tokens += 1; return 't'; };
  const refused = (e) => e instanceof TypeError && /allowInsecure/.test(e.message) && /ws:\/\//.test(e.message);
  // A client that was wrongly created is closed at once: a failing test must not leave it running.
  const create = (options) => { createClient(options).close(); };
  for (const url of ['ws://example.com/dev', 'ws://10.0.0.1:3001/dev', 'ws://[2001:db8::1]/dev',
    'ws://localhost.example.com/dev', 'ws://127.0.0.1.example.com/dev', 'ws://[::ffff:127.0.0.1]/dev']) {
    assert.throws(() => create({ url, getToken, WebSocket: Recorder }), refused, url);
    assert.throws(() => create({ url, getToken, WebSocket: Recorder, tokenSource: 'query' }), refused, url);
    assert.throws(() => create({ url, getToken, WebSocket: Recorder, allowInsecure: false }), refused, url);
  }
  assert.throws(() => create({ url: 'ws://example.com/dev', getToken, WebSocket: Recorder, allowInsecure: 'yes' }),
    (e) => e instanceof TypeError && /allowInsecure must be a boolean/.test(e.message));
  await sleep(50);
  assert.equal(tokens, 0, 'no token fetched');
  assert.deepEqual(opened, [], 'no socket opened');

  // Opting in: the client goes ahead, token and all.
  const insecure = createClient({ url: 'ws://example.com/dev', getToken, WebSocket: Recorder, allowInsecure: true });
  try {
    await sleep(50);
    assert.equal(tokens, 1);
    assert.deepEqual(opened, [{ url: 'ws://example.com/dev', protocols: ['wsauth', 'bearer.t'] }]);
  } finally {
    insecure.close();
  }

  // Loopback needs no opt-in, nor does wss://.
  for (const url of ['ws://localhost:3001/dev', 'ws://LOCALHOST/dev', 'ws://127.0.0.1:3001/dev', 'ws://127.8.9.10/dev',
    'ws://[::1]:3001/dev', 'wss://example.com/dev']) {
    opened.length = 0;
    const c = createClient({ url, getToken, WebSocket: Recorder });
    try {
      await sleep(20);
      assert.deepEqual(opened.map((s) => s.url), [url]);
    } finally {
      c.close();
    }
  }
});

test('ws://localhost:port connects without allowInsecure', async () => {
  const port = new URL(local.url).port;
  const { client } = clientFor('grace', { url: `ws://localhost:${port}/dev` });
  try {
    await client.ready;
    assert.equal((await client.whoami()).userId, 'grace');
  } finally {
    client.close();
  }
});

test('the type declarations match the API (tsc --noEmit)', async () => {
  const tsc = process.env.WSAUTH_TSC;
  assert.ok(tsc, 'WSAUTH_TSC (the TypeScript compiler) is set by scripts/test');
  const child = spawn(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext',
    '--target', 'es2022', '--skipLibCheck', join(here, 'types.ts')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b) => { out += b; });
  child.stderr.on('data', (b) => { out += b; });
  const code = await new Promise((res) => child.once('exit', res));
  assert.equal(code, 0, out);
});
