// wsauth-client: a WebSocket client for wsauth (API Gateway WebSocket APIs with real identities).
//
// It connects with a token from the caller's provider (in the subprotocol list by default, or
// the query string), renews the token on the live connection (`refresh`) before it expires,
// reconnects with exponential backoff and jitter (always with a fresh token: a browser cannot
// tell a refused handshake from a network drop), and matches replies to requests by `id`
// (API Gateway does not keep replies in order). No dependency; plain ES module with JSDoc
// types (`index.d.ts` describes the same API).

/** @typedef {'connecting' | 'open' | 'reconnecting' | 'closed'} State */

/** An error reply of wsauth (`{"type":"error","code":…,"message":…}`), or a client-side one. */
export class WsauthError extends Error {
  /**
   * @param {string} code `bad_request`, `forbidden`, `invalid_token`, …; client-side:
   *   `timeout`, `closed`, `not_open`.
   * @param {string} message
   */
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.name = 'WsauthError';
    this.code = code;
  }
}

/**
 * The wire facts this client relies on. Their home is the Rust crate `wsauth-protocol`;
 * `test/wire.test.mjs` holds this object to the `protocol/wire.json` that crate checks.
 */
export const PROTOCOL = Object.freeze({
  subprotocol: 'wsauth',
  bearerPrefix: 'bearer.',
  queryParameter: 'token',
  /** The token sources a browser can use (not `header`), the first the default. */
  tokenSources: Object.freeze(['subprotocol', 'query']),
  routes: Object.freeze({ whoami: 'whoami', sendToUser: 'sendToUser', broadcast: 'broadcast', refresh: 'refresh' }),
  frames: Object.freeze({ error: 'error', message: 'message' }),
  /** Codes after which the server closes the connection: reconnect with a fresh token. */
  sessionOver: Object.freeze(['not_bound', 'session_expired']),
});
const SESSION_OVER = new Set(PROTOCOL.sessionOver);
const R = PROTOCOL.routes;

/**
 * Whether a host, as `new URL()` spells it (lower case, IPv4 in dotted decimal, IPv6 in
 * brackets, compressed), is loopback: `localhost`, `127.0.0.0/8` or `[::1]`.
 * @param {string} hostname
 */
const isLoopback = (hostname) =>
  hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);

/**
 * Creates a client and starts connecting.
 * @param {import('./index.js').ClientOptions} options
 * @returns {import('./index.js').Client}
 */
export function createClient(options) {
  const o = { ...options };
  let url = null;
  if (typeof o.url === 'string' && /^wss?:\/\//.test(o.url)) {
    try { url = new URL(o.url); } catch { /* refused below */ }
  }
  if (!url) throw new TypeError('url must be a ws:// or wss:// URL');
  if (o.allowInsecure !== undefined && typeof o.allowInsecure !== 'boolean') throw new TypeError('allowInsecure must be a boolean');
  // Plain ws:// carries the token in clear text: only to this machine, unless the caller opts in
  // (decided before any token is fetched).
  const { protocol, hostname } = url;
  if (protocol === 'ws:' && !o.allowInsecure && !isLoopback(hostname)) {
    throw new TypeError(`refusing to send a token over plain ws:// to ${hostname}: use wss://, `
      + 'or pass allowInsecure: true to opt in (ws:// needs no opt-in to localhost, 127.0.0.0/8 or [::1])');
  }
  if (typeof o.getToken !== 'function') throw new TypeError('getToken must be a function returning a token');
  const tokenSource = o.tokenSource ?? PROTOCOL.tokenSources[0];
  if (!PROTOCOL.tokenSources.includes(tokenSource)) {
    throw new TypeError('tokenSource must be "subprotocol" or "query" (as the deploy is configured)');
  }
  const WS = o.WebSocket ?? globalThis.WebSocket;
  if (typeof WS !== 'function') throw new TypeError('no WebSocket implementation: pass options.WebSocket (e.g. the ws package)');
  const number = (v, name, dflt, min) => {
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw new TypeError(`${name} must be a number ≥ ${min}`);
    return v;
  };
  const refreshBefore = number(o.refreshBeforeSeconds, 'refreshBeforeSeconds', 60, 0);
  const minDelay = number(o.reconnect?.minDelayMs, 'reconnect.minDelayMs', 500, 1);
  const maxDelay = Math.max(minDelay, number(o.reconnect?.maxDelayMs, 'reconnect.maxDelayMs', 30000, 1));
  const requestTimeout = number(o.requestTimeoutMs, 'requestTimeoutMs', 10000, 1);
  // A connection that stayed up this long was a working session: the backoff starts over.
  const stableMs = Math.min(maxDelay, 30000);
  // setTimeout's longest delay; a longer one would fire at once.
  const MAX_TIMER = 2 ** 31 - 1;

  /** @type {Map<string, Set<Function>>} */
  const listeners = new Map([['message', new Set()], ['state', new Set()]]);
  /** @type {Map<string, {resolve: Function, reject: Function, timer: any}>} */
  const pending = new Map();
  let state = /** @type {State} */ ('connecting');
  let socket = null;
  let closed = false;
  let failures = 0; // consecutive attempts that did not reach a stable session
  let openedAt = 0;
  let handshakeTimer = null;
  let nextId = 0;
  let retryTimer = null;
  let refreshTimer = null;
  let resolveReady;
  let rejectReady;
  const ready = new Promise((res, rej) => { resolveReady = res; rejectReady = rej; });
  ready.catch(() => {}); // a close() before the first open must not be an unhandled rejection

  const emit = (event, value) => {
    for (const fn of listeners.get(event) ?? []) {
      try { fn(value); } catch (e) { queueMicrotask(() => { throw e; }); }
    }
  };
  const setState = (s) => {
    if (s !== state) { state = s; emit('state', s); }
  };

  const failPending = (code, message) => {
    for (const [id, p] of pending) {
      clearTimeout(p.timer);
      p.reject(new WsauthError(code, message));
      pending.delete(id);
    }
  };

  const send = (action, body) => {
    if (closed) return Promise.reject(new WsauthError('closed', 'the client is closed'));
    if (!socket || socket.readyState !== 1) return Promise.reject(new WsauthError('not_open', 'not connected'));
    nextId = (nextId + 1) % Number.MAX_SAFE_INTEGER;
    const id = `r${nextId}`;
    const frame = JSON.stringify({ ...(body ?? {}), action, id });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new WsauthError('timeout', `no reply to ${action} within ${requestTimeout} ms`));
      }, requestTimeout);
      pending.set(id, { resolve, reject, timer });
      try { socket.send(frame); } catch (e) {
        clearTimeout(timer);
        pending.delete(id);
        reject(new WsauthError('not_open', String(e?.message ?? e)));
      }
    });
  };

  const scheduleRefresh = (expiresAt) => {
    clearTimeout(refreshTimer);
    if (closed || !Number.isFinite(expiresAt)) return;
    const now = Date.now();
    const lifetimeMs = expiresAt * 1000 - now;
    // refreshBeforeSeconds ahead of expiry, but never sooner than half the remaining lifetime
    // (a short-lived token must not cause a refresh loop) nor sooner than a second.
    const at = Math.max(expiresAt * 1000 - refreshBefore * 1000, now + lifetimeMs / 2, now + 1000);
    refreshTimer = setTimeout(refresh, Math.min(MAX_TIMER, Math.max(0, at - now)));
  };

  const refresh = async () => {
    if (closed || !socket) return;
    const s = socket;
    try {
      const token = await o.getToken();
      if (s !== socket) return;
      const r = await send(R.refresh, { token });
      scheduleRefresh(r.expiresAt);
    } catch {
      if (s !== socket || closed) return;
      // Refused (invalid_token, a revoked session…), no token, or no answer (a dead
      // connection): start over with a fresh token.
      drop(s, 'refresh failed');
    }
  };

  const drop = (s, why) => {
    if (s !== socket) return;
    socket = null;
    clearTimeout(refreshTimer);
    detach(s);
    try { s.close(1000, why); } catch { /* already closing */ }
    failPending('closed', 'connection closed');
    scheduleReconnect();
  };

  // Handlers off, except an error handler: closing a socket that is still connecting makes
  // some implementations (ws in Node) emit 'error', which must not go unhandled.
  const detach = (s) => {
    clearTimeout(handshakeTimer);
    s.onopen = s.onmessage = s.onclose = null;
    s.onerror = () => {};
  };

  const scheduleReconnect = () => {
    if (closed) return;
    setState('reconnecting');
    clearTimeout(retryTimer);
    if (openedAt && Date.now() - openedAt >= stableMs) failures = 0;
    openedAt = 0;
    const base = Math.min(maxDelay, minDelay * 2 ** Math.min(failures, 30));
    failures += 1;
    const delay = base / 2 + Math.random() * (base / 2); // "equal jitter": never a tight loop
    retryTimer = setTimeout(connect, delay);
  };

  const onFrame = (s, data) => {
    let m;
    try { m = JSON.parse(typeof data === 'string' ? data : String(data)); } catch { return; }
    if (m === null || typeof m !== 'object') return;
    const p = typeof m.id === 'string' ? pending.get(m.id) : undefined;
    if (p) {
      pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.type === PROTOCOL.frames.error) p.reject(new WsauthError(m.code ?? 'error', m.message ?? ''));
      else p.resolve(m);
    }
    // The session is over (the server closes too): start over with a fresh token.
    if (m.type === PROTOCOL.frames.error && SESSION_OVER.has(m.code)) return drop(s, m.code);
    if (!p && m.type === PROTOCOL.frames.message) emit('message', m);
  };

  const connect = async () => {
    if (closed) return;
    retryTimer = null;
    let token;
    try {
      token = await o.getToken();
    } catch {
      return scheduleReconnect();
    }
    if (closed) return;
    if (typeof token !== 'string' || token === '') return scheduleReconnect();
    let s;
    try {
      if (tokenSource === 'query') {
        const u = new URL(o.url);
        u.searchParams.set(PROTOCOL.queryParameter, token);
        s = new WS(u.toString());
      } else {
        s = new WS(o.url, [PROTOCOL.subprotocol, `${PROTOCOL.bearerPrefix}${token}`]);
      }
    } catch {
      return scheduleReconnect();
    }
    socket = s;
    // A server that accepts the connection but never upgrades it must not hold the client.
    handshakeTimer = setTimeout(() => drop(s, 'handshake timed out'), requestTimeout);
    s.onopen = async () => {
      if (s !== socket) return;
      clearTimeout(handshakeTimer);
      openedAt = Date.now();
      setState('open');
      resolveReady();
      try {
        const who = await send(R.whoami);
        scheduleRefresh(who.expiresAt);
      } catch {
        // No answer or an error: this session cannot be renewed; start over.
        drop(s, 'whoami failed');
      }
    };
    s.onmessage = (ev) => { if (s === socket) onFrame(s, ev.data); };
    s.onerror = () => { /* a close event follows */ };
    s.onclose = () => {
      if (s !== socket) return;
      socket = null;
      clearTimeout(refreshTimer);
      detach(s);
      failPending('closed', 'connection closed');
      scheduleReconnect();
    };
  };

  const client = {
    ready,
    get state() { return state; },
    on(event, fn) {
      const set = listeners.get(event);
      if (!set) throw new TypeError(`unknown event ${event}: "message" or "state"`);
      set.add(fn);
      return () => set.delete(fn);
    },
    whoami: () => send(R.whoami),
    sendToUser: (userId, data) => send(R.sendToUser, { to: userId, data }),
    broadcast: (data) => send(R.broadcast, { data }),
    request: (action, body) => {
      if (typeof action !== 'string' || action === '') return Promise.reject(new TypeError('action must be a non-empty string'));
      if (body !== undefined && (body === null || typeof body !== 'object' || Array.isArray(body))) {
        return Promise.reject(new TypeError('body must be an object'));
      }
      return send(action, body);
    },
    close() {
      if (closed) return;
      closed = true;
      clearTimeout(retryTimer);
      clearTimeout(refreshTimer);
      const s = socket;
      socket = null;
      if (s) {
        detach(s);
        try { s.close(1000, 'client closed'); } catch { /* already closing */ }
      }
      failPending('closed', 'the client is closed');
      rejectReady(new WsauthError('closed', 'the client was closed before it connected'));
      setState('closed');
    },
  };
  queueMicrotask(connect);
  return client;
}
