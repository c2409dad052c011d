// The JavaScript client's wire facts against their home, the Rust crate `wsauth-protocol`:
// `protocol/wire.json` is that crate's items as data (its own test fails when they differ).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PROTOCOL } from '../index.js';

const wire = JSON.parse(readFileSync(new URL('../../../protocol/wire.json', import.meta.url), 'utf8'));

test('the token travels as the protocol says', () => {
  assert.equal(PROTOCOL.subprotocol, wire.token.subprotocol);
  assert.equal(PROTOCOL.bearerPrefix, wire.token.bearerPrefix);
  assert.equal(PROTOCOL.queryParameter, wire.token.queryParameter);
});

test('every route the client sends is a built-in route of the protocol', () => {
  for (const [name, key] of Object.entries(PROTOCOL.routes)) {
    assert.ok(key in wire.routes.builtin, `${name}: ${key} is no built-in route`);
  }
});

test('the frame types it reads and the codes that end a session are the protocol\'s', () => {
  for (const t of Object.values(PROTOCOL.frames)) assert.ok(wire.frames.includes(t), t);
  const closing = Object.entries(wire.errorCodes).filter(([, c]) => c.closes).map(([code]) => code).sort();
  assert.deepEqual([...PROTOCOL.sessionOver].sort(), closing);
});
