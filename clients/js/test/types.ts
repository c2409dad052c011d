// Compiled with `tsc --noEmit --strict` by client.test.mjs: the declarations describe the API.
import { createClient, WsauthError, type Client, type State, type Message } from '../index.js';


const client: Client = createClient({
  url: 'wss://abc.execute-api.eu-west-1.amazonaws.com/prod',
  getToken: async () => 'jwt',
  tokenSource: 'subprotocol',
  refreshBeforeSeconds: 60,
  reconnect: { minDelayMs: 500, maxDelayMs: 30000 },
  requestTimeoutMs: 10000,
  allowInsecure: false,
  WebSocket: globalThis.WebSocket, // the browser's (the DOM's types)
});
const off: () => void = client.on('message', (m: Message) => console.log(m.from, m.data));
client.on('state', (s: State) => console.log(s));
async function use(): Promise<void> {
  await client.ready;
  const who = await client.whoami();
  const user: string = who.userId;
  const exp: number = who.expiresAt;
  const sent = await client.sendToUser('bob', { hi: 1 });
  const n: number = sent.delivered;
  await client.broadcast('all');
  const reply = await client.request('chat', { text: 'hi' });
  const id: string = reply.id;
  try { await client.request('x'); } catch (e) { if (e instanceof WsauthError) console.log(e.code); }
  console.log(user, exp, n, id);
  off();
  client.close();
}
void use;
