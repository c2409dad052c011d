// wsauth demo client: dev token → WebSocket with the token in the subprotocol list →
// whoami, send, receive, reconnect with backoff. Everything is rendered with textContent.
(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const stage = document.body.dataset.stage || 'dev';
  const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/${stage}`;
  let socket = null;          // the one live socket; never two
  let wanted = false;         // the user wants to be connected (drives reconnects)
  let attempt = 0;
  let retryTimer = null;
  let credentials = null;     // {sub, scope}

  function setState(kind, text) {
    const el = $('state');
    el.className = `state ${kind}`;
    el.textContent = text;
    const open = kind === 'open';
    $('send-btn').disabled = !open;
    $('broadcast-btn').disabled = !open;
    $('connect').disabled = wanted;
    $('disconnect').disabled = !wanted;
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
    if (!r.ok || !body.token) throw new Error(body.error || `token request failed (${r.status})`);
    return body.token;
  }

  function closeSocket() {
    if (socket) {
      const s = socket;
      socket = null;
      s.onopen = s.onmessage = s.onclose = s.onerror = null;
      try { s.close(1000, 'client disconnect'); } catch (_) { /* already closed */ }
    }
  }

  async function open() {
    clearTimeout(retryTimer);
    closeSocket();
    setState('connecting', 'connecting…');
    let token;
    try {
      token = await mintToken();
    } catch (e) {
      log('error', 'system', e.message);
      return scheduleReconnect();
    }
    if (!wanted) return;
    const s = new WebSocket(wsUrl, ['wsauth', `bearer.${token}`]);
    socket = s;
    s.onopen = () => {
      if (socket !== s) return;
      attempt = 0;
      setState('open', 'open');
      log('system', 'system', `connected as ${credentials.sub}`);
      s.send(JSON.stringify({ action: 'whoami' }));
    };
    s.onmessage = (ev) => {
      if (socket !== s) return;
      let m;
      try { m = JSON.parse(ev.data); } catch (_) { return log('error', 'system', 'unreadable frame'); }
      if (m.type === 'whoami') {
        $('whoami').hidden = false;
        $('who-user').textContent = m.userId;
        $('who-conn').textContent = m.connectionId;
        $('who-scopes').textContent = (m.scopes || []).join(' ') || '(none)';
        $('who-exp').textContent = new Date(m.expiresAt * 1000).toLocaleString();
      } else if (m.type === 'message') {
        log('message', m.from, typeof m.data === 'string' ? m.data : JSON.stringify(m.data));
      } else if (m.type === 'sent') {
        log('system', 'system', `delivered to ${m.delivered} connection(s)${m.to ? ' of ' + m.to : ''}`);
      } else if (m.type === 'error') {
        log('error', 'error', `${m.code}: ${m.message}`);
      }
    };
    s.onclose = (ev) => {
      if (socket !== s) return;
      socket = null;
      $('whoami').hidden = true;
      const why = `closed (${ev.code}${ev.reason ? ': ' + ev.reason : ''})`;
      setState('closed', why);
      log('system', 'system', why);
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    if (!wanted) return setState('closed', 'disconnected');
    attempt += 1;
    const delay = Math.min(30000, 500 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random() / 2);
    setState('closed', `reconnecting in ${Math.round(delay / 100) / 10}s`);
    retryTimer = setTimeout(open, delay);
  }

  $('login').addEventListener('submit', (e) => {
    e.preventDefault();
    credentials = { sub: $('sub').value.trim(), scope: $('scope').value.trim() };
    if (!credentials.sub) return;
    wanted = true;
    attempt = 0;
    open();
  });

  $('disconnect').addEventListener('click', () => {
    wanted = false;
    clearTimeout(retryTimer);
    closeSocket();
    $('whoami').hidden = true;
    setState('closed', 'disconnected');
    log('system', 'system', 'disconnected');
  });

  $('send').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = $('message').value;
    const to = $('to').value.trim();
    if (!socket || socket.readyState !== WebSocket.OPEN || !text || !to) return;
    socket.send(JSON.stringify({ action: 'sendToUser', to, data: text }));
    log('mine', `me → ${to}`, text);
    $('message').value = '';
  });

  $('broadcast-btn').addEventListener('click', () => {
    const text = $('message').value;
    if (!socket || socket.readyState !== WebSocket.OPEN || !text) return;
    socket.send(JSON.stringify({ action: 'broadcast', data: text }));
    log('mine', 'me → everyone', text);
    $('message').value = '';
  });

  setState('closed', 'disconnected');
})();
