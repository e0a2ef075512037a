// SPDX-License-Identifier: GPL-2.0-or-later
// mnguard responder console (docs/console.md). Plain JavaScript, no build step, no inline script: the
// collector serves this file with a Content-Security-Policy that allows only its own files. Every value
// from the collector is put on the page with textContent (never parsed as HTML): records hold strings from
// devices, file names and users.
'use strict';

(function () {
  const PAGE = 100;             // hosts per page, records per timeline page
  const state = { me: null, csrf: '' };
  let gen = 0;                  // bumped by each navigation: a slower earlier render then draws nothing

  // ---- small helpers ----

  const $ = (id) => document.getElementById(id);

  function el(tag, opts, ...children) {
    const e = document.createElement(tag);
    if (opts) {
      if (opts.cls) e.className = opts.cls;
      if (opts.text !== undefined && opts.text !== null) e.textContent = String(opts.text);
      if (opts.href) e.setAttribute('href', opts.href);
      if (opts.title) e.title = opts.title;
      if (opts.data) for (const k in opts.data) e.dataset[k] = opts.data[k];
    }
    for (const c of children) if (c) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    return e;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function two(n) { return (n < 10 ? '0' : '') + n; }

  // Local time for people ("2026-11-26 15:18:14"), UTC in the tooltip.
  function localTime(iso) {
    if (!iso) return null;
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    return d.getFullYear() + '-' + two(d.getMonth() + 1) + '-' + two(d.getDate()) + ' ' +
      two(d.getHours()) + ':' + two(d.getMinutes()) + ':' + two(d.getSeconds());
  }

  function timeCell(iso) {
    return el('td', { cls: 'time', text: localTime(iso) || '—', title: iso || '' });
  }

  // datetime-local value → RFC 3339 in UTC, as the API takes it.
  function toApiTime(v) {
    if (!v) return '';
    const d = new Date(v);
    return isNaN(d) ? '' : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  function fromApiTime(v) {
    if (!v) return '';
    const d = new Date(v);
    if (isNaN(d)) return '';
    return d.getFullYear() + '-' + two(d.getMonth() + 1) + '-' + two(d.getDate()) + 'T' +
      two(d.getHours()) + ':' + two(d.getMinutes()) + ':' + two(d.getSeconds());
  }

  function status(text, isError) {
    const s = $('status');
    s.textContent = text || '';
    s.classList.toggle('error', !!isError);
  }

  function query(params) {
    const q = new URLSearchParams();
    for (const k in params) if (params[k] !== undefined && params[k] !== null && params[k] !== '') q.set(k, params[k]);
    const s = q.toString();
    return s ? '?' + s : '';
  }

  const CHAIN = {
    intact: '正常 / intact', gap: '欠落 / gap', broken: '改ざん検知 / broken', empty: '記録なし / empty',
  };

  function chainBadge(chain) {
    return el('span', { cls: 'chain chain-' + chain, text: CHAIN[chain] || chain });
  }

  // ---- the API ----

  class NotSignedIn extends Error {}

  async function api(path, opts) {
    const o = Object.assign({ credentials: 'same-origin', headers: {} }, opts || {});
    if (o.method && o.method !== 'GET') o.headers['X-CSRF-Token'] = state.csrf;
    const res = await fetch(path, o);
    if (res.status === 403) {
      const j = await res.clone().json().catch(() => ({}));
      if (j.error === 'session-expired' || j.error === 'client-certificate-required') {
        showLogin(j.error === 'session-expired' ? 'セッションが終了しました。もう一度ログインしてください。 / The session has ended; sign in again.' : '');
        throw new NotSignedIn();
      }
    }
    return res;
  }

  async function apiJson(path) {
    const res = await api(path);
    const j = await res.json().catch(() => null);
    if (!res.ok) throw new Error((j && j.message) || ('HTTP ' + res.status));
    return j;
  }

  async function apiRecords(path) {
    const res = await api(path);
    const text = await res.text();
    if (!res.ok) {
      let m = 'HTTP ' + res.status;
      try { m = JSON.parse(text).message || m; } catch (e) { /* not JSON */ }
      throw new Error(m);
    }
    const records = [];
    for (const line of text.split('\n')) {
      if (!line) continue;
      try { records.push(JSON.parse(line)); } catch (e) { records.push({ unreadable: line }); }
    }
    return { records, next: res.headers.get('Mnguard-Next-After') };
  }

  // ---- signing in and out ----

  function showOnly(id) {
    for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== id;
    for (const a of document.querySelectorAll('#nav a')) {
      a.classList.toggle('current', 'view-' + a.dataset.nav === id || (a.dataset.nav === 'hosts' && (id === 'view-host' || id === 'view-events')));
    }
  }

  function showLogin(message) {
    state.me = null;
    state.csrf = '';
    gen++;
    document.body.dataset.shown = '';
    $('nav').hidden = true;
    $('who').hidden = true;
    $('login-error').textContent = message || '';
    showOnly('view-login');
    $('login-name').focus();
  }

  function signedIn(me) {
    state.me = me;
    state.csrf = me.csrf || '';
    $('who-name').textContent = me.name;
    $('who-role').textContent = me.role === 'admin' ? '管理者 / admin' : '監査 / auditor';
    $('nav').hidden = false;
    $('who').hidden = false;
  }

  async function checkSession() {
    const res = await fetch('/v1/console/session', { credentials: 'same-origin' });
    if (!res.ok) return false;
    signedIn(await res.json());
    return true;
  }

  async function login(ev) {
    ev.preventDefault();
    $('login-error').textContent = '';
    const body = JSON.stringify({ name: $('login-name').value, password: $('login-password').value });
    $('login-password').value = '';
    const res = await fetch('/v1/console/login', {
      method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' }, body,
    });
    const j = await res.json().catch(() => ({}));
    if (!res.ok) {
      const why = {
        'login-failed': '利用者名またはパスワードが違います。 / Wrong name or password.',
        'account-locked': 'ログインの失敗が続いたため一時的にロックされています。 / Locked after failed logins: ',
        'too-many-failures': 'この端末からのログイン失敗が多すぎます。 / Too many failed logins from this address: ',
      }[j.error];
      $('login-error').textContent = why ? why + (j.error === 'login-failed' ? '' : (j.message || '')) : (j.message || 'HTTP ' + res.status);
      return;
    }
    signedIn(j);
    if (!location.hash || location.hash === '#/login') location.hash = '#/hosts';
    else route();
  }

  async function logout() {
    try { await api('/v1/console/logout', { method: 'POST' }); } catch (e) { /* signed out anyway */ }
    showLogin('ログアウトしました。 / Signed out.');
  }

  // ---- hosts ----

  function hostsParams() {
    const p = new URLSearchParams(location.hash.split('?')[1] || '');
    return {
      q: p.get('q') || '', group: p.get('group') || '', chain: p.get('chain') || '', serial: p.get('serial') || '',
      version: p.get('version') || '',
      silent: p.get('silent') || '', silent_after: p.get('silent_after') || '86400',
      sort: p.get('sort') || 'name', order: p.get('order') || '', offset: parseInt(p.get('offset') || '0', 10) || 0,
    };
  }

  function setHash(view, params) {
    location.hash = '#/' + view + query(params);
  }

  async function showHosts() {
    showOnly('view-hosts');
    const p = hostsParams();
    $('h-q').value = p.q;
    $('h-group').value = p.group;
    $('h-chain').value = p.chain;
    $('h-serial').value = p.serial;
    $('h-version').value = p.version;
    $('h-silent').checked = p.silent === '1';
    $('h-silent-after').value = p.silent_after;
    for (const th of document.querySelectorAll('#hosts-table th')) {
      th.classList.toggle('sorted', th.dataset.sort === p.sort);
      th.classList.toggle('desc', th.dataset.sort === p.sort && p.order === 'desc');
    }
    status('読み込み中… / Loading…');
    const my = gen;
    const j = await apiJson('/v1/console/hosts' + query(Object.assign({}, p, { limit: PAGE })));
    if (my !== gen) return;
    const tbody = $('hosts-table').tBodies[0];
    clear(tbody);
    for (const h of j.hosts) {
      const tr = el('tr', { cls: h.silent ? 'silent' : '' });
      const name = el('td', { cls: 'name' }, el('a', { href: '#/host/' + h.host_id, text: h.host_name || '(名前なし / no name)' }));
      if (h.silent) name.appendChild(el('span', { cls: 'badge silent-badge', text: '無通信 / silent' }));
      tr.appendChild(name);
      tr.appendChild(el('td', { cls: 'id', text: h.host_id }));
      tr.appendChild(timeCell(h.last_seen));
      tr.appendChild(el('td', { text: h.agent_version || '—' }));
      tr.appendChild(el('td', { cls: 'num', text: h.policy_serial || '—' }));
      tr.appendChild(el('td', {}, chainBadge(h.chain)));
      tr.appendChild(el('td', { cls: 'num', text: h.events_24h }));
      tr.appendChild(el('td', { cls: 'num', text: h.events }));
      tbody.appendChild(tr);
    }
    $('hosts-count').textContent = '(' + j.total + ')';
    const from = j.total ? j.offset + 1 : 0, to = j.offset + j.hosts.length;
    $('hosts-range').textContent = j.total + ' 台中 ' + from + '–' + to + ' / ' + from + '–' + to + ' of ' + j.total;
    $('hosts-prev').disabled = j.offset === 0;
    $('hosts-next').disabled = to >= j.total;
    status(j.hosts.length ? '' : '該当する端末はありません。 / No host matches.');
  }

  function hostsFilter(ev) {
    ev.preventDefault();
    const p = hostsParams();
    setHash('hosts', {
      q: $('h-q').value.trim(), group: $('h-group').value.trim(), chain: $('h-chain').value,
      serial: $('h-serial').value.trim(),
      version: $('h-version').value.trim(), silent: $('h-silent').checked ? '1' : '',
      silent_after: $('h-silent-after').value, sort: p.sort, order: p.order,
    });
  }

  function hostsSort(ev) {
    const th = ev.target.closest('th');
    if (!th || !th.dataset.sort) return;
    const p = hostsParams();
    const order = p.sort === th.dataset.sort ? (p.order === 'desc' ? 'asc' : 'desc') :
      (['last_seen', 'events', 'events_24h', 'serial'].includes(th.dataset.sort) ? 'desc' : 'asc');
    setHash('hosts', Object.assign(p, { sort: th.dataset.sort, order, offset: 0 }));
  }

  function hostsPage(delta) {
    const p = hostsParams();
    p.offset = Math.max(0, p.offset + delta * PAGE);
    setHash('hosts', p);
  }

  // ---- records (timeline, cross-host views) ----

  function field(r, a, b) { return r && r[a] && r[a][b] !== undefined ? r[a][b] : undefined; }

  function deviceText(r) {
    const serial = field(r, 'device', 'serial');
    if (serial) return serial;
    const v = field(r, 'device', 'vendor'), p = field(r, 'device', 'product');
    return v ? v + ':' + (p || '????') : '';
  }

  function recordRows(r, withHost, tbody) {
    const tr = el('tr', { cls: 'record' });
    const action = field(r, 'event', 'action') || '?';
    tr.appendChild(timeCell(r['@timestamp']));
    if (withHost) {
      const hid = field(r, 'host', 'id') || '';
      tr.appendChild(el('td', {}, el('a', { href: '#/host/' + hid, text: field(r, 'host', 'name') || hid })));
    } else tr.appendChild(el('td', { cls: 'num', text: field(r, 'event', 'sequence') }));
    const act = el('td', { cls: 'action action-' + action.replace(/[^a-z-]/g, ''), text: action });
    if (field(r, 'mnguard', 'would')) act.appendChild(el('span', { cls: 'badge', text: '監査 / audit' }));
    tr.appendChild(act);
    tr.appendChild(el('td', { text: field(r, 'event', 'outcome') || '' }));
    const user = field(r, 'user', 'name');
    tr.appendChild(el('td', {}, user ? el('a', { cls: 'user-link', href: '#/events' + query({ user }), text: user }) : null));
    const dev = deviceText(r);
    tr.appendChild(el('td', {}, dev ? el('a', { cls: 'device-link', href: '#/events' + query({ device: dev }), text: dev }) : null));
    tr.appendChild(el('td', { text: field(r, 'mnguard', 'rule') || '' }));
    tr.appendChild(el('td', { text: field(r, 'event', 'reason') || '' }));
    const detail = el('tr', { cls: 'detail' });
    detail.hidden = true;
    const td = el('td', {}, el('pre', { text: r.unreadable || JSON.stringify(r, null, 2) }));
    td.colSpan = 8;
    detail.appendChild(td);
    tr.addEventListener('click', (ev) => {
      if (ev.target.closest('a')) return;
      detail.hidden = !detail.hidden;
      tr.classList.toggle('open', !detail.hidden);
    });
    tbody.appendChild(tr);
    tbody.appendChild(detail);
  }

  function timelineParams() {
    const [path, qs] = location.hash.slice(2).split('?');
    const p = new URLSearchParams(qs || '');
    return {
      host: path.split('/')[1] || '', since: p.get('since') || '', until: p.get('until') || '',
      action: p.get('action') || '', user: p.get('user') || '', device: p.get('device') || '',
    };
  }

  function factRow(dl, term, value) {
    dl.appendChild(el('dt', { text: term }));
    dl.appendChild(el('dd', {}, value instanceof Node ? value : document.createTextNode(value === undefined || value === null ? '—' : String(value))));
  }

  let timelineNext = null;

  async function showHost() {
    showOnly('view-host');
    const p = timelineParams();
    if (!/^[0-9a-f]{32}$/.test(p.host)) { status('端末 ID が正しくありません。 / Not a host id.', true); return; }
    $('t-since').value = fromApiTime(p.since);
    $('t-until').value = fromApiTime(p.until);
    $('t-action').value = p.action;
    $('t-user').value = p.user;
    $('t-device').value = p.device;
    // nothing of the previous host stays on the page while this one loads
    const dl = $('host-facts');
    clear(dl);
    clear($('timeline-table').tBodies[0]);
    $('host-title').textContent = p.host;
    $('timeline-more').hidden = true;
    status('読み込み中… / Loading…');
    const my = gen;
    const hj = await apiJson('/v1/console/hosts' + query({ host: p.host, limit: 1 }));
    if (my !== gen) return;
    const h = hj.hosts[0];
    $('host-title').textContent = h ? (h.host_name || h.host_id) : p.host;
    if (h) {
      factRow(dl, 'ID', h.host_id);
      factRow(dl, 'グループ / Group', h.group);
      factRow(dl, '最終受信 / Last seen', localTime(h.last_seen));
      factRow(dl, '版 / Agent version', h.agent_version);
      factRow(dl, '適用ポリシー / Policy serial', h.policy_serial);
      factRow(dl, 'チェーン / Chain', chainBadge(h.chain));
      factRow(dl, '連番 / Sequences', h.first_sequence + '–' + h.last_sequence + ' (受信済み / acked ' + h.acked_sequence + ')');
      factRow(dl, '24時間 / Events 24 h', h.events_24h);
    }
    const warn = $('host-chain-warning');
    warn.hidden = !h || (h.chain !== 'gap' && h.chain !== 'broken');
    warn.textContent = h && h.chain === 'broken'
      ? 'この端末の記録には改ざんまたは矛盾が検知されています。書き出したファイルの検証は失敗します。 / This host\'s chain is broken: an export will not verify.'
      : '記録に欠落があります。欠落を含む範囲の書き出しは検証で欠落を報告します。 / Records are missing: an export across the gap reports them when verified.';
    timelineNext = null;
    await timelinePage(p);
  }

  function timelineQuery(p) {
    return { host: p.host, since: p.since, until: p.until, action: p.action, user: p.user, device: p.device };
  }

  async function timelinePage(p) {
    const params = Object.assign(timelineQuery(p), { order: 'desc', limit: PAGE, after: timelineNext });
    const my = gen;
    const { records, next } = await apiRecords('/v1/events' + query(params));
    if (my !== gen) return;
    const tbody = $('timeline-table').tBodies[0];
    for (const r of records) recordRows(r, false, tbody);
    timelineNext = next;
    $('timeline-more').hidden = !next;
    status(tbody.rows.length ? '' : '該当する記録はありません。 / No record matches.');
  }

  function timelineFilter(ev) {
    ev.preventDefault();
    const p = timelineParams();
    setHash('host/' + p.host, {
      since: toApiTime($('t-since').value), until: toApiTime($('t-until').value), action: $('t-action').value.trim(),
      user: $('t-user').value.trim(), device: $('t-device').value.trim(),
    });
  }

  function exportEvidence() {
    const p = timelineParams();
    // the browser downloads it (Content-Disposition: attachment); the session cookie goes along
    const a = el('a', { href: '/v1/console/export' + query(timelineQuery(p)) });
    a.setAttribute('download', '');
    document.body.appendChild(a);
    a.click();
    a.remove();
    status('書き出しを開始しました。 / Export started.');
  }

  let eventsNext = null;

  function eventsParams() {
    const p = new URLSearchParams(location.hash.split('?')[1] || '');
    return { user: p.get('user') || '', device: p.get('device') || '' };
  }

  async function showEvents() {
    showOnly('view-events');
    const p = eventsParams();
    $('events-kind').textContent = p.device ? 'デバイス / Device' : '利用者 / User';
    $('events-title').textContent = p.device || p.user;
    clear($('events-table').tBodies[0]);
    eventsNext = null;
    await eventsPage();
  }

  async function eventsPage() {
    const p = eventsParams();
    const my = gen;
    const { records, next } = await apiRecords('/v1/events' + query({ user: p.user, device: p.device, order: 'desc', limit: PAGE, after: eventsNext }));
    if (my !== gen) return;
    const tbody = $('events-table').tBodies[0];
    for (const r of records) recordRows(r, true, tbody);
    eventsNext = next;
    $('events-more').hidden = !next;
    status(tbody.rows.length ? '' : '該当する記録はありません。 / No record matches.');
  }

  // ---- policies ----

  async function showPolicies() {
    showOnly('view-policies');
    status('読み込み中… / Loading…');
    const my = gen;
    const serials = (await apiJson('/v1/console/serials')).serials;
    const res = await api('/v1/policies');
    if (my !== gen) return;
    const running = {};
    for (const s of serials) running[s.group + '\u0000' + s.policy_serial] = s.hosts;

    const ptbody = $('policies-table').tBodies[0];
    clear(ptbody);
    const note = $('policies-note');
    note.hidden = true;
    if (res.ok) {
      let list = await res.json();
      if (list && !Array.isArray(list)) list = list.policies || [];
      for (const pol of list) {
        const tr = el('tr');
        tr.appendChild(el('td', { text: pol.group }));
        tr.appendChild(el('td', { cls: 'num', text: pol.serial }));
        tr.appendChild(el('td', { text: pol.name }));
        tr.appendChild(el('td', { cls: 'id', text: pol.key_id }));
        tr.appendChild(timeCell(pol.published));
        tr.appendChild(el('td', { text: pol.published_by }));
        const n = running[pol.group + '\u0000' + pol.serial] || 0;
        tr.appendChild(el('td', { cls: 'num' }, el('a', { href: '#/hosts' + query({ group: pol.group, serial: pol.serial }), text: n })));
        ptbody.appendChild(tr);
      }
      if (!list.length) { note.hidden = false; note.textContent = '配布されたポリシーはまだありません。 / No policy has been published yet.'; }
    } else {
      note.hidden = false;
      note.textContent = '配布ポリシーの一覧を取得できません (HTTP ' + res.status + ')。 / Cannot list the published policies.';
    }

    const stbody = $('serials-table').tBodies[0];
    clear(stbody);
    for (const s of serials) {
      const tr = el('tr');
      tr.appendChild(el('td', { text: s.group }));
      tr.appendChild(el('td', { cls: 'num', text: s.policy_serial || '— (未報告 / not reported)' }));
      tr.appendChild(el('td', { cls: 'num' }, el('a', { href: '#/hosts' + query({ group: s.group, serial: s.policy_serial }), text: s.hosts })));
      tr.appendChild(timeCell(s.last_seen));
      stbody.appendChild(tr);
    }
    status('');
  }

  // ---- access log ----

  let accessBefore = null;

  function accessParams() {
    const p = new URLSearchParams(location.hash.split('?')[1] || '');
    return { operator: p.get('operator') || '', host: p.get('host') || '' };
  }

  async function showAccess() {
    showOnly('view-access');
    const p = accessParams();
    $('a-operator').value = p.operator;
    $('a-host').value = p.host;
    clear($('access-table').tBodies[0]);
    accessBefore = null;
    await accessPage();
  }

  async function accessPage() {
    const p = accessParams();
    const my = gen;
    const j = await apiJson('/v1/console/access' + query({ operator: p.operator, host: p.host, before: accessBefore, limit: PAGE }));
    if (my !== gen) return;
    const tbody = $('access-table').tBodies[0];
    for (const e of j.entries) {
      const tr = el('tr', { cls: e.status >= 400 ? 'refused' : '' });
      tr.appendChild(timeCell(e.time));
      tr.appendChild(el('td', { text: e.operator }));
      tr.appendChild(el('td', { text: e.auth }));
      tr.appendChild(el('td', { text: e.remote }));
      tr.appendChild(el('td', { text: e.method + ' ' + e.path }));
      tr.appendChild(el('td', {}, e.host_id ? el('a', { href: '#/host/' + e.host_id, text: e.host_id }) : null));
      let q = e.query;
      try { q = decodeURIComponent(e.query.replace(/\+/g, ' ')); } catch (err) { /* shown as stored */ }
      tr.appendChild(el('td', { cls: 'query', text: q }));
      tr.appendChild(el('td', { cls: 'num', text: e.status }));
      tr.appendChild(el('td', { cls: 'num', text: e.records }));
      tbody.appendChild(tr);
    }
    accessBefore = j.next_before;
    $('access-more').hidden = !accessBefore;
    status(tbody.rows.length ? '' : '記録はありません。 / No entries.');
  }

  function accessFilter(ev) {
    ev.preventDefault();
    setHash('access', { operator: $('a-operator').value.trim(), host: $('a-host').value.trim() });
  }

  // ---- routing ----

  async function route() {
    if (!state.me) return;
    const my = ++gen, hash = location.hash;
    // data-shown names the view once it is drawn (for people's scripts and the tests alike)
    document.body.dataset.shown = '';
    const view = hash.slice(2).split('?')[0].split('/')[0] || 'hosts';
    try {
      if (view === 'host') await showHost();
      else if (view === 'events') await showEvents();
      else if (view === 'policies') await showPolicies();
      else if (view === 'access') await showAccess();
      else await showHosts();
    } catch (e) {
      if (!(e instanceof NotSignedIn)) status('エラー / Error: ' + e.message, true);
    } finally {
      if (my === gen) document.body.dataset.shown = hash;
    }
  }

  function guard(fn) {
    return async (...args) => {
      try { await fn(...args); } catch (e) { if (!(e instanceof NotSignedIn)) status('エラー / Error: ' + e.message, true); }
    };
  }

  async function start() {
    $('login-form').addEventListener('submit', guard(login));
    $('logout').addEventListener('click', guard(logout));
    $('hosts-filter').addEventListener('submit', hostsFilter);
    $('hosts-table').tHead.addEventListener('click', hostsSort);
    $('hosts-prev').addEventListener('click', () => hostsPage(-1));
    $('hosts-next').addEventListener('click', () => hostsPage(1));
    $('timeline-filter').addEventListener('submit', timelineFilter);
    $('timeline-more').addEventListener('click', guard(() => timelinePage(timelineParams())));
    $('t-export').addEventListener('click', exportEvidence);
    $('events-more').addEventListener('click', guard(eventsPage));
    $('access-filter').addEventListener('submit', accessFilter);
    $('access-more').addEventListener('click', guard(accessPage));
    window.addEventListener('hashchange', route);
    if (await checkSession()) {
      if (!location.hash) location.hash = '#/hosts';
      else await route();
    } else showLogin('');
  }

  document.addEventListener('DOMContentLoaded', () => { start().catch((e) => status('エラー / Error: ' + e.message, true)); });
})();
