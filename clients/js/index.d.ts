// Types of wsauth-client (index.js). Hand-written; `tsc --noEmit` checks them in the tests.

/** The client's connection state. */
export type State = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** Anything with the browser WebSocket's constructor shape (e.g. the `ws` package in Node). */
export interface WebSocketConstructor {
  new (url: string, protocols?: string | string[]): WebSocketLike;
}

/** The parts of a WebSocket the client uses. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  // `any`: the browser's and the ws package's event types differ, and handler parameters are
  // checked contravariantly.
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: any) => void) | null;
  onclose: ((ev: any) => void) | null;
  onerror: ((ev: any) => void) | null;
}

export interface ClientOptions {
  /**
   * `wss://{api}.execute-api.{region}.amazonaws.com/{stage}`, or wsauth-local's `ws://…/dev`.
   * Plain `ws://` is refused (a `TypeError` from `createClient`, before any token is fetched)
   * unless the host is loopback (`localhost`, `127.0.0.0/8`, `[::1]`) or `allowInsecure` is set.
   */
  url: string;
  /**
   * Send the token over plain `ws://` to a host that is not loopback (in clear text: anyone on
   * the path can read and replay it). Default `false`; `wss://` never needs it.
   */
  allowInsecure?: boolean;
  /** Called at every (re)connect and before expiry; returns a JWT. */
  getToken: () => string | Promise<string>;
  /** Where the handshake token travels, as the deploy is configured. Default `subprotocol`. */
  tokenSource?: 'subprotocol' | 'query';
  /** How long before `expiresAt` the token is renewed on the live connection. Default 60. */
  refreshBeforeSeconds?: number;
  /** Reconnect backoff: exponential from `minDelayMs` (500) to `maxDelayMs` (30000), jittered. */
  reconnect?: { minDelayMs?: number; maxDelayMs?: number };
  /** How long a request (and the handshake) waits for its reply. Default 10000. */
  requestTimeoutMs?: number;
  /** The WebSocket implementation. Default `globalThis.WebSocket`. */
  WebSocket?: WebSocketConstructor;
}

/** A message pushed by a backend (`from: "$server"`) or sent by a user. */
export interface Message {
  type: 'message';
  from: string;
  data: unknown;
}

export interface WhoAmI {
  type: 'whoami';
  userId: string;
  connectionId: string;
  scopes: string[];
  expiresAt: number;
  id: string;
}

export interface Sent {
  type: 'sent';
  to?: string;
  delivered: number;
  id: string;
}

/** A reply of wsauth; the application's routes define their own. */
export type Reply = { id: string; type?: string; [key: string]: unknown };

export declare class WsauthError extends Error {
  constructor(code: string, message: string);
  /** wsauth's error code (`bad_request`, `forbidden`, …) or `timeout`, `closed`, `not_open`. */
  readonly code: string;
}

export interface Client {
  /** Resolves on the first open connection; rejects if `close()` comes first. */
  readonly ready: Promise<void>;
  readonly state: State;
  on(event: 'message', fn: (msg: Message) => void): () => void;
  on(event: 'state', fn: (state: State) => void): () => void;
  whoami(): Promise<WhoAmI>;
  sendToUser(userId: string, data: unknown): Promise<Sent>;
  broadcast(data: unknown): Promise<Sent>;
  /** Any route; the reply is matched by `id`. */
  request(action: string, body?: Record<string, unknown>): Promise<Reply>;
  /** Stops everything: no timer, no socket, no reconnect. */
  close(): void;
}

export declare function createClient(options: ClientOptions): Client;

/** The wire facts this client relies on (their home: the Rust crate `wsauth-protocol`). */
export declare const PROTOCOL: Readonly<{
  subprotocol: string;
  bearerPrefix: string;
  queryParameter: string;
  tokenSources: readonly string[];
  routes: Readonly<{ whoami: string; sendToUser: string; broadcast: string; refresh: string }>;
  frames: Readonly<{ error: string; message: string }>;
  sessionOver: readonly string[];
}>;
