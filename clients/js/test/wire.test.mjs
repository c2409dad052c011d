// The JavaScript client's wire facts against their home, the Rust crate `wsauth-protocol`:
// `protocol/wire.json` is that crate's items as data (its own test fails when they differ).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PROTOCOL, createClient } from '../index.js';

const wire = JSON.parse(readFileSync(new URL('../../../protocol/wire.json', import.meta.url), 'utf8'));

test('the token travels as the protocol says', () => {
  assert.equal(PROTOCOL.subprotocol, wire.token.subprotocol);
  assert.equal(PROTOCOL.bearerPrefix, wire.token.bearerPrefix);
  assert.equal(PROTOCOL.queryParameter, wire.token.queryParameter);
  assert.equal(PROTOCOL.tokenSources[0], wire.token.default);
  for (const t of PROTOCOL.tokenSources) assert.ok(t in wire.token.identitySources, t);
});

test('plain ws:// needs no opt-in exactly to the hosts the protocol calls loopback', () => {
  // Never opens a socket: createClient refuses before connecting, or is closed at once.
  class Idle { constructor() { this.readyState = 0; } send() {} close() { this.readyState = 3; } }
  const getToken = () => new Promise(() => {});
  const accepted = (host) => {
    try {
      createClient({ url: `ws://${host}/dev`, getToken, WebSocket: Idle }).close();
      return true;
    } catch (e) {
      if (e instanceof TypeError && /allowInsecure/.test(e.message)) return false;
      throw e;
    }
  };
  for (const h of wire.loopback.hosts) assert.equal(accepted(h), true, h);
  for (const h of wire.loopback.notHosts) assert.equal(accepted(h), false, h);
});

test('every route the client sends is the built-in route of that name', () => {
  for (const [name, key] of Object.entries(PROTOCOL.routes)) {
    assert.equal(key, name, `${name} is sent as ${key}`);
    assert.ok(key in wire.routes.builtin, `${name}: ${key} is no built-in route`);
  }
});

test('the frame types it reads and the codes that end a session are the protocol\'s', () => {
  for (const [name, t] of Object.entries(PROTOCOL.frames)) {
    assert.equal(t, name, `the ${name} frame is read as ${t}`);
    assert.ok(wire.frames.includes(t), t);
  }
  const closing = Object.entries(wire.errorCodes).filter(([, c]) => c.closes).map(([code]) => code).sort();
  assert.deepEqual([...PROTOCOL.sessionOver].sort(), closing);
});
