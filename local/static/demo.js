// wsauth demo page, built on the JavaScript client (clients/js, served at /wsauth-client.js):
// a dev token from this wsauth-local → the client connects with it in the subprotocol list,
// keeps the session alive (refresh before expiry) and reconnects with backoff and a fresh token.
// Everything is rendered with textContent.
import { createClient } from '/wsauth-client.js';

const $ = (id) => document.getElementById(id);
const stage = document.body.dataset.stage || 'dev';
const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/${stage}`;
let client = null;        // the one client; never two
let credentials = null;   // {sub, scope}

function setState(kind, text) {
  const el = $('state');
  el.className = `state ${kind}`;
  el.textContent = text;
  const open = kind === 'open';
  $('send-btn').disabled = !open;
  $('broadcast-btn').disabled = !open;
  $('connect').disabled = client !== null;
  $('disconnect').disabled = client === null;
}

function log(kind, from, text) {
  const li = document.createElement('li');
  li.className = kind;
  const t = document.createElement('time');
  t.textContent = new Date().toLocaleTimeString();
  const f = document.createElement('span');
  f.className = 'from';
  f.textContent = from;
  const body = document.createElement('span');
  body.className = 'text';
  body.textContent = text;
  li.append(t, f, body);
  $('log').append(li);
  $('log').scrollTop = $('log').scrollHeight;
}

async function mintToken() {
  const r = await fetch('/_wsauth/dev/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sub: credentials.sub, scope: credentials.scope, ttl: 3600 }),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok || !body.token) {
    const e = new Error(body.error || `token request failed (${r.status})`);
    log('error', 'system', e.message);
    throw e;
  }
  return body.token;
}

function showWho(m) {
  $('whoami').hidden = false;
  $('who-user').textContent = m.userId;
  $('who-conn').textContent = m.connectionId;
  $('who-scopes').textContent = (m.scopes || []).join(' ') || '(none)';
  $('who-exp').textContent = new Date(m.expiresAt * 1000).toLocaleString();
}

function connect() {
  const c = createClient({ url: wsUrl, getToken: mintToken, refreshBeforeSeconds: 60 });
  client = c;
  c.on('state', async (s) => {
    if (client !== c) return;
    if (s === 'open') {
      setState('open', 'open');
      log('system', 'system', `connected as ${credentials.sub}`);
      try {
        const who = await c.whoami();
        if (client === c) showWho(who);
      } catch (e) {
        if (client === c) log('error', 'error', e.message);
      }
    } else if (s === 'reconnecting') {
      $('whoami').hidden = true;
      setState('closed', 'reconnecting…');
      log('system', 'system', 'connection lost; reconnecting with a fresh token');
    }
  });
  c.on('message', (m) => {
    log('message', m.from, typeof m.data === 'string' ? m.data : JSON.stringify(m.data));
  });
  setState('connecting', 'connecting…');
}

$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  if (client) return;
  credentials = { sub: $('sub').value.trim(), scope: $('scope').value.trim() };
  if (!credentials.sub) return;
  connect();
});

$('disconnect').addEventListener('click', () => {
  const c = client;
  client = null;
  c?.close();
  $('whoami').hidden = true;
  setState('closed', 'disconnected');
  log('system', 'system', 'disconnected');
});

$('send').addEventListener('submit', async (e) => {
  e.preventDefault();
  const text = $('message').value;
  const to = $('to').value.trim();
  if (!client || client.state !== 'open' || !text || !to) return;
  $('message').value = '';
  log('mine', `me → ${to}`, text);
  try {
    const r = await client.sendToUser(to, text);
    log('system', 'system', `delivered to ${r.delivered} connection(s) of ${to}`);
  } catch (err) {
    log('error', 'error', err.message);
  }
});

$('broadcast-btn').addEventListener('click', async () => {
  const text = $('message').value;
  if (!client || client.state !== 'open' || !text) return;
  $('message').value = '';
  log('mine', 'me → everyone', text);
  try {
    const r = await client.broadcast(text);
    log('system', 'system', `delivered to ${r.delivered} connection(s)`);
  } catch (err) {
    log('error', 'error', err.message);
  }
});

setState('closed', 'disconnected');
