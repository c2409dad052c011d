// The demo page, driven in real headless Chromium by Playwright: two pages (alice and bob)
// connect, see who they are, alice sends bob a message, bob sees it arrive. Also: Send is
// disabled before Connect, a second Connect cannot open a second socket, the state shows the
// page reconnects by itself after a server-side close. The page runs on the JavaScript client
// (clients/js), served by wsauth-local at /wsauth-client.js. A screenshot is saved to
// target/demo.png.
//
// Needs WSAUTH_LOCAL_BIN (the built wsauth-local binary) and PLAYWRIGHT_CORE (path of the
// playwright-core package); scripts/test sets both.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import net from 'node:net';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PLAYWRIGHT_CORE);
const bin = process.env.WSAUTH_LOCAL_BIN;

let server, browser, base, cwd;

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); });
    s.on('error', rej);
  });
}

async function waitForServer(url, ms = 15000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try { const r = await fetch(url); if (r.ok) return; } catch (_) { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`wsauth-local did not start at ${url}`);
}

before(async () => {
  assert.ok(bin, 'WSAUTH_LOCAL_BIN must point at the wsauth-local binary');
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  cwd = mkdtempSync(join(tmpdir(), 'wsauth-demo-'));
  const env = { ...process.env };
  delete env.WSAUTH_ISSUER;
  server = spawn(resolve(bin), ['serve', '--listen', `127.0.0.1:${port}`], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stderr.on('data', () => {});
  server.stdout.on('data', () => {});
  await waitForServer(`${base}/`);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (server && server.exitCode === null && server.signalCode === null) {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGINT');
    await exited;
  }
  // The server's working directory (its dev issuer's keys): removed once it has exited.
  if (cwd) rmSync(cwd, { recursive: true, force: true });
});

async function openAs(user) {
  const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const client = page.waitForResponse((r) => r.url().endsWith('/wsauth-client.js') && r.ok());
  await page.goto(`${base}/`);
  await client;
  assert.equal(await page.isDisabled('#send-btn'), true, 'Send is disabled before Connect');
  await page.fill('#sub', user);
  await page.click('#connect');
  await page.waitForSelector('#state.open', { timeout: 10000 });
  await page.waitForFunction((u) => document.getElementById('who-user').textContent === u, user, { timeout: 10000 });
  return { page, errors };
}

test('two pages connect, see who they are, and exchange a message', async () => {
  const alice = await openAs('alice');
  const bob = await openAs('bob');
  assert.equal(await alice.page.textContent('#who-user'), 'alice');
  assert.match(await alice.page.textContent('#who-scopes'), /messages:send/);
  assert.ok((await bob.page.textContent('#who-conn')).length >= 16);
  assert.equal(await alice.page.isDisabled('#connect'), true, 'no second Connect while connected');

  await alice.page.fill('#to', 'bob');
  await alice.page.fill('#message', 'hello from alice');
  await alice.page.click('#send-btn');
  await bob.page.waitForFunction(
    () => [...document.querySelectorAll('#log li.message')].some((li) => li.textContent.includes('hello from alice')),
    null, { timeout: 10000 });
  const from = await bob.page.textContent('#log li.message .from');
  assert.equal(from, 'alice');
  await alice.page.waitForFunction(
    () => document.getElementById('log').textContent.includes('delivered to 1 connection(s) of bob'),
    null, { timeout: 10000 });

  // Markup in a message is shown as text, never interpreted.
  await alice.page.fill('#message', '<img src=x onerror=alert(1)>');
  await alice.page.click('#send-btn');
  await bob.page.waitForFunction(
    () => document.getElementById('log').textContent.includes('<img src=x onerror=alert(1)>'), null, { timeout: 10000 });
  assert.equal(await bob.page.locator('#log img').count(), 0);

  await bob.page.screenshot({ path: 'target/demo.png', fullPage: true });

  // Disconnect shows the state; Send is disabled again.
  await bob.page.click('#disconnect');
  await bob.page.waitForSelector('#state.closed');
  assert.equal(await bob.page.isDisabled('#send-btn'), true);
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
});

test('after a server-side close the page reconnects by itself (the client)', async () => {
  const carol = await openAs('carol');
  const conn = await carol.page.textContent('#who-conn');
  // Log carol out everywhere through the push endpoint; the page sees the close, then reconnects.
  const r = await fetch(`${base}/_wsauth/push`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ op: 'disconnectUser', userId: 'carol' }),
  });
  assert.deepEqual(await r.json(), { disconnected: 1 });
  await carol.page.waitForFunction(
    () => document.getElementById('log').textContent.includes('reconnecting with a fresh token'), null, { timeout: 10000 });
  await carol.page.waitForFunction(
    (old) => document.querySelector('#state.open') && document.getElementById('who-conn').textContent !== old && document.getElementById('who-conn').textContent !== '',
    conn, { timeout: 15000 });
});
