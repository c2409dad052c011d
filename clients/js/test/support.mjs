// Test support: a real wsauth-local (the binary cargo built) on a free loopback port, with its
// dev issuer in a fresh directory; tokens from its dev-token endpoint; pushes to its push endpoint.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
export const BIN = process.env.WSAUTH_LOCAL_BIN || join(root, 'target/debug/wsauth-local');

async function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** Starts `wsauth-local serve`; `env` adds WSAUTH_* settings. Call `stop()` when done. */
export async function startLocal(env = {}, args = []) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'wsauth-js-'));
  const child = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`, ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH, RUST_LOG: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`wsauth-local did not start: ${out}`)), 20000);
    const onData = (b) => {
      out += b;
      if (out.includes('wsauth-local listening')) { clearTimeout(timer); res(); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (b) => { out += b; });
    child.once('exit', (code) => { clearTimeout(timer); rej(new Error(`wsauth-local exited ${code}: ${out}`)); });
  });
  child.removeAllListeners('exit');
  const base = `127.0.0.1:${port}`;
  return {
    url: `ws://${base}/dev`,
    http: `http://${base}`,
    async token(sub, { scope = 'messages:send messages:broadcast', ttl = 600 } = {}) {
      const r = await fetch(`http://${base}/_wsauth/dev/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sub, scope, ttl }),
      });
      if (!r.ok) throw new Error(`dev token: ${r.status}`);
      return (await r.json()).token;
    },
    async push(body) {
      const r = await fetch(`http://${base}/_wsauth/push`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: r.status, body: await r.json().catch(() => null) };
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((res) => { if (child.exitCode !== null) res(); else child.once('exit', res); });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves with the first value `emitter` gives to `event` that satisfies `pred`. */
export function next(client, event, pred = () => true, ms = 10000) {
  return new Promise((res, rej) => {
    const timer = setTimeout(() => { off(); rej(new Error(`no ${event} within ${ms} ms`)); }, ms);
    const off = client.on(event, (v) => {
      if (pred(v)) { clearTimeout(timer); off(); res(v); }
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
