/*
 * QA console for the AICall archive: a single page, no framework, no build step.
 *
 * Served at /console/ under a strict Content-Security-Policy (script-src 'self',
 * connect-src 'self'): no inline script, no eval, nothing from another origin.
 *
 * Pages (hash routing):
 *   #/signin            paste an admin JWT (or open the console with #token=<jwt>)
 *   #/calls?filters     the call list (filters in the hash, so a view can be linked)
 *   #/calls/<id>        one call: metadata, transcript, audio, analyses, callbacks
 *   #/trends?range      charts drawn with the vendored Apache ECharts
 *
 * Safety rules followed throughout:
 *   - every piece of data (transcripts are untrusted) goes into the page as text:
 *     textContent / text nodes / attributes via el(); innerHTML is never used;
 *   - the token lives in sessionStorage only and is sent only in the Authorization
 *     header; a token given in the URL fragment is removed with history.replaceState.
 */
'use strict';

(() => {
  const TOKEN_KEY = 'aicall.console.token';
  const API = '/api/v2/archive';
  const PAGE_SIZE = 50;
  // Next to this script (…/console/vendor/), wherever the page itself was opened.
  const ECHARTS_SRC = new URL('vendor/echarts.min.js', document.currentScript ? document.currentScript.src : location.href).href;

  /** Filters of the call list, in the order the form shows them (and the API takes them). */
  const LIST_FILTERS = ['since', 'until', 'ai_agent_id', 'user_id', 'q', 'satisfaction', 'failed_rule', 'status'];
  const TREND_FILTERS = ['since', 'until', 'ai_agent_id', 'user_id'];
  const SATISFACTION = ['satisfied', 'neutral', 'dissatisfied'];
  const STATUSES = ['analysed', 'archived', 'analysis_failed', 'archive_failed', 'pending'];
  const PASS_WORDS = new Set(['pass', 'passed', 'ok', 'yes', 'true', 'compliant', '通过', '合格', '是']);
  const FAIL_WORDS = new Set(['fail', 'failed', 'no', 'false', 'violation', 'non-compliant', '不通过', '不合格', '违规', '否']);
  const COLORS = {
    satisfied: '#2f9e44', neutral: '#adb5bd', dissatisfied: '#e03131', unknown: '#dee2e6',
    calls: '#3b5bdb', failed: '#e03131', line: '#f08c00', bar: '#4c6ef5', keyword: '#1098ad',
  };

  const app = document.getElementById('app');
  const banner = document.querySelector('[data-testid="error-banner"]');
  const state = {
    gen: 0,                 // bumped on every render: async work of an older view is dropped
    afterSignIn: null,      // the hash to go back to once signed in
    lastListHash: '#/calls',
    charts: [],             // ECharts instances of the current view (disposed on navigation)
    echarts: null,          // the promise of the loaded library
  };

  // ---------------------------------------------------------------------------------------------
  // DOM helpers: el() only ever creates text nodes from data.

  /**
   * el('a', {href: '#/x', class: 'c', testid: 'id', onclick: fn}, 'text', child, [more]).
   * Strings and numbers become text nodes; null/undefined/false children are skipped.
   */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'testid') node.dataset.testid = value;
      else if (key === 'dataset') Object.assign(node.dataset, value);
      else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
      else if (['value', 'checked', 'selected', 'hidden', 'disabled'].includes(key)) node[key] = value;
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) append(node, child);
      else if (child instanceof Node) node.appendChild(child);
      else node.appendChild(document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  function loading(text) {
    return el('div', { class: 'state state-loading', testid: 'loading' }, el('span', { class: 'spinner' }), text || 'Loading…');
  }

  function empty(text, testid) {
    return el('div', { class: 'state state-empty', testid: testid || 'empty' }, text);
  }

  // ---------------------------------------------------------------------------------------------
  // Formatting (all defensive: the API may leave anything out).

  const DASH = '—';
  const pad = (n) => String(n).padStart(2, '0');

  function toDate(value) {
    if (value === null || value === undefined || value === '') return null;
    if (typeof value === 'number') return new Date(value > 1e11 ? value : value * 1000);
    const d = new Date(value);
    return Number.isNaN(d.getTime()) ? null : d;
  }

  /** Local date and time, "2026-12-01 18:00:05". */
  function fmtTime(value) {
    const d = toDate(value);
    if (!d) return value ? String(value) : DASH;
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  /** Seconds as m:ss (h:mm:ss from an hour on). */
  function fmtDuration(seconds) {
    const n = Number(seconds);
    if (seconds === null || seconds === undefined || seconds === '' || !Number.isFinite(n)) return DASH;
    const total = Math.max(0, Math.round(n));
    const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    return h ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
  }

  /** A transcript time (`begin`, seconds from the call's start) as m:ss. */
  function fmtClock(seconds) {
    const n = Number(seconds);
    if (seconds === null || seconds === undefined || !Number.isFinite(n)) return '';
    const total = Math.max(0, Math.floor(n));
    return `${Math.floor(total / 60)}:${pad(total % 60)}`;
  }

  function fmtNum(value) {
    const n = Number(value);
    if (value === null || value === undefined || value === '' || !Number.isFinite(n)) return DASH;
    return n.toLocaleString('en-US', { maximumFractionDigits: 1 });
  }

  function fmtBytes(n) {
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
    return `${(n / 1024 / 1024).toFixed(1)} MB`;
  }

  /** Any value as display text: strings as they are, data as JSON. */
  function asText(value) {
    if (value === null || value === undefined) return '';
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    try { return JSON.stringify(value, null, 2); } catch (e) { return String(value); }
  }

  const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  const list = (v) => (Array.isArray(v) ? v : []);
  const roleLabel = (role) => (role === 'user' ? 'User' : role === 'agent' ? 'Agent'
    : role ? String(role).charAt(0).toUpperCase() + String(role).slice(1) : 'Unknown');

  function badge(text, kind, testid) {
    return el('span', { class: `badge badge-${kind || 'plain'}`, testid }, text);
  }

  function statusBadge(status) {
    const kind = { analysed: 'ok', archived: 'info', analysis_failed: 'bad', archive_failed: 'bad' }[status] || 'plain';
    return badge(status ? String(status).replace('_', ' ') : DASH, kind, 'call-status');
  }

  function satisfactionBadge(value, testid) {
    if (value === null || value === undefined || value === '') return el('span', { class: 'muted' }, DASH);
    const v = String(value);
    const kind = { satisfied: 'ok', neutral: 'plain', dissatisfied: 'bad' }[v.toLowerCase()] || 'info';
    return badge(v, kind, testid || 'satisfaction');
  }

  /** "pass" | "fail" | the word itself, from a rule's result (bool or word, English or Chinese). */
  function ruleResult(rule) {
    for (const key of ['result', 'status', 'pass', 'passed', 'conclusion', 'isCompliant']) {
      if (!(key in rule)) continue;
      const v = rule[key];
      if (typeof v === 'boolean') return v ? 'pass' : 'fail';
      const word = String(v ?? '').trim().toLowerCase();
      if (PASS_WORDS.has(word)) return 'pass';
      if (FAIL_WORDS.has(word)) return 'fail';
      return word || 'unknown';
    }
    return 'unknown';
  }

  // ---------------------------------------------------------------------------------------------
  // The token: sessionStorage only.

  function getToken() {
    try { return sessionStorage.getItem(TOKEN_KEY); } catch (e) { return null; }
  }

  function setToken(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  }

  function dropToken() {
    try { sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* storage disabled */ }
  }

  /** The JWT's claims, for display only (the server verifies the token; this does not). */
  function claimsOf(token) {
    try {
      const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const bin = atob(part + '='.repeat((4 - (part.length % 4)) % 4));
      const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
      const claims = JSON.parse(new TextDecoder().decode(bytes));
      return isObject(claims) ? claims : null;
    } catch (e) {
      return null;
    }
  }

  /**
   * A token given in the URL fragment (#token=<jwt>, or ?token= inside a route such as
   * #/calls/<id>?token=<jwt>) is stored and removed from the URL before anything else runs.
   */
  function captureTokenFromHash() {
    const raw = location.hash.replace(/^#/, '');
    let route = null;
    if (/^token=/.test(raw)) {
      const params = new URLSearchParams(raw);
      const token = params.get('token');
      if (token) setToken(token.trim());
      route = '#/calls';
    } else {
      const q = raw.indexOf('?');
      if (q < 0) return false;
      const params = new URLSearchParams(raw.slice(q + 1));
      if (!params.has('token')) return false;
      const token = params.get('token');
      if (token) setToken(token.trim());
      params.delete('token');
      const rest = params.toString();
      route = '#' + raw.slice(0, q) + (rest ? '?' + rest : '');
    }
    history.replaceState(null, '', location.pathname + location.search + route);
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // The error banner.

  function showError(message) {
    banner.querySelector('[data-testid="error-message"]').textContent = message;
    banner.hidden = false;
  }

  function clearError() {
    banner.hidden = true;
    banner.querySelector('[data-testid="error-message"]').textContent = '';
  }

  banner.querySelector('[data-testid="error-dismiss"]').addEventListener('click', clearError);

  // ---------------------------------------------------------------------------------------------
  // The API: same origin, GET, Authorization: Bearer <token>.

  class ApiError extends Error {
    constructor(status, message, code) {
      super(message);
      this.status = status;
      this.code = code || null;
      this.handled = false;   // true when the banner already says it (401/403)
    }
  }

  function query(params) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) {
      if (v !== null && v !== undefined && v !== '') qs.set(k, String(v));
    }
    const s = qs.toString();
    return s ? `?${s}` : '';
  }

  /** fetch() with the token; a non-2xx answer becomes an ApiError carrying the API's `message`. */
  async function apiFetch(path, params) {
    const token = getToken();
    if (!token) {
      const err = new ApiError(401, 'Sign in with an admin token first.', 'NoToken');
      authFailed(err);
      throw err;
    }
    let resp;
    try {
      resp = await fetch(path + query(params), {
        method: 'GET',
        headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
        cache: 'no-store',
        credentials: 'omit',
        referrerPolicy: 'no-referrer',
      });
    } catch (e) {
      throw new ApiError(0, `The archive API could not be reached (${e.message || e}).`, 'NetworkError');
    }
    if (resp.ok) return resp;
    let message = `The archive API answered HTTP ${resp.status}.`;
    let code = null;
    try {
      const body = await resp.json();
      if (isObject(body)) {
        if (typeof body.message === 'string' && body.message) message = body.message;
        code = body.error_code || null;
      }
    } catch (e) { /* not JSON: keep the generic message */ }
    const err = new ApiError(resp.status, message, code);
    if (resp.status === 401 || resp.status === 403) {
      // Sign out only if this answer is about the token in use (not one replaced meanwhile).
      if (getToken() === token) authFailed(err);
      else err.handled = true;
    }
    throw err;
  }

  async function apiJson(path, params) {
    const resp = await apiFetch(path, params);
    try {
      return await resp.json();
    } catch (e) {
      throw new ApiError(resp.status, 'The archive API answered with something that is not JSON.', 'BadAnswer');
    }
  }

  /** 401/403: forget the token, go back to sign-in and say why. */
  function authFailed(err) {
    err.handled = true;
    dropToken();
    const { segs } = parseHash();
    if (segs[0] !== 'signin') state.afterSignIn = location.hash || '#/calls';
    history.replaceState(null, '', `${location.pathname}${location.search}#/signin`);
    route();
    const code = err.code ? `, ${err.code}` : '';
    showError(`${err.message} (HTTP ${err.status}${code}). Sign in with an admin token.`);
  }

  /** An error of a view: the banner says it (unless it already does); the view shows `where`. */
  function viewError(err, where, gen) {
    if (gen !== state.gen) return;          // the user has moved on (or was signed out)
    if (!err.handled) showError(err.message || String(err));
    clear(where).appendChild(el('div', { class: 'state state-error', testid: 'view-error' },
      err.status === 404 ? 'Not found.' : 'Could not load this page.'));
  }

  // ---------------------------------------------------------------------------------------------
  // Routing.

  function parseHash() {
    const raw = location.hash.replace(/^#/, '');
    const q = raw.indexOf('?');
    const path = q >= 0 ? raw.slice(0, q) : raw;
    const params = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
    const segs = path.split('/').filter(Boolean).map((s) => {
      try { return decodeURIComponent(s); } catch (e) { return s; }
    });
    return { segs, params };
  }

  function navigate(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;   // -> hashchange -> route()
  }

  function hashWith(base, params) {
    const s = params.toString();
    return s ? `${base}?${s}` : base;
  }

  function disposeCharts() {
    for (const chart of state.charts) {
      try { chart.dispose(); } catch (e) { /* already gone */ }
    }
    state.charts = [];
  }

  function updateChrome(view) {
    const token = getToken();
    const nav = document.querySelector('[data-testid="nav"]');
    const who = document.querySelector('[data-testid="whoami"]');
    nav.hidden = who.hidden = !token;
    for (const a of nav.querySelectorAll('a')) a.classList.toggle('active', a.dataset.nav === view);
    if (token) {
      const claims = claimsOf(token) || {};
      const name = claims.sub ? String(claims.sub) : 'signed in';
      who.querySelector('[data-testid="whoami-name"]').textContent =
        claims.role ? `${name} · ${claims.role}` : name;
    }
  }

  function route() {
    state.gen += 1;
    disposeCharts();
    const { segs, params } = parseHash();
    const view = segs[0] || 'calls';
    if (!getToken() || view === 'signin') {
      if (view !== 'signin') state.afterSignIn = location.hash || '#/calls';
      updateChrome('signin');
      return renderSignIn();
    }
    updateChrome(view);
    if (view === 'calls' && segs.length === 1) return renderCalls(params);
    if (view === 'calls' && segs.length === 2) return renderCall(segs[1]);
    if (view === 'trends') return renderTrends(params);
    clear(app).appendChild(el('section', { class: 'card' },
      el('h1', null, 'Page not found'), el('p', null, el('a', { href: '#/calls' }, 'Go to the call list'))));
    return undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Sign-in.

  function renderSignIn() {
    const token = getToken();
    const input = el('textarea', {
      id: 'token-input', rows: 5, testid: 'token-input', autocomplete: 'off', spellcheck: 'false',
      placeholder: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9…', required: true,
    });
    const form = el('form', { class: 'signin-form', testid: 'signin-form', onsubmit: onSubmit },
      el('label', { for: 'token-input' }, 'Admin token (JWT)'),
      input,
      el('p', { class: 'hint' },
        'A token whose role is admin, e.g. from ', el('code', null, 'aiagent token --role admin'),
        '. It is kept in this browser tab only (sessionStorage) and sent only in the Authorization header. ',
        'You can also open the console as ', el('code', null, '/console/#token=<jwt>'), '.'),
      el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'btn btn-primary', testid: 'sign-in' }, 'Sign in')));
    clear(app).appendChild(el('section', { class: 'card signin', testid: 'signin' },
      el('h1', null, 'Sign in'),
      token ? el('p', { class: 'muted' }, 'You are signed in; a new token replaces the current one.') : null,
      form));
    input.focus();

    function onSubmit(ev) {
      ev.preventDefault();
      const value = input.value.trim().replace(/^bearer\s+/i, '');
      if (!value) return showError('token: paste a token first.');
      if (value.split('.').length !== 3) return showError('token: not a JWT (three parts separated by dots expected).');
      const claims = claimsOf(value);
      if (claims && typeof claims.exp === 'number' && claims.exp * 1000 < Date.now()) {
        return showError(`token: expired at ${fmtTime(claims.exp)}.`);
      }
      setToken(value);
      clearError();
      const target = state.afterSignIn && !state.afterSignIn.startsWith('#/signin') ? state.afterSignIn : '#/calls';
      state.afterSignIn = null;
      navigate(target);
      return undefined;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The call list.

  /** The list's filters from the hash: the named ones and one field.<code>=<value>. */
  function listFilters(params) {
    const f = {};
    for (const k of LIST_FILTERS) f[k] = (params.get(k) || '').trim();
    f.fieldCode = '';
    f.fieldValue = '';
    // Rows per page (not in the form): #/calls?limit=20 links a shorter page.
    const limit = Number(params.get('limit'));
    f.limit = Number.isInteger(limit) && limit >= 1 && limit <= 200 ? limit : PAGE_SIZE;
    for (const [k, v] of params) {
      if (k.startsWith('field.') && k.length > 6) {
        f.fieldCode = k.slice(6);
        f.fieldValue = v;
        break;
      }
    }
    return f;
  }

  /** The API's query parameters for those filters (empty ones left out). */
  function listQuery(f) {
    const p = {};
    for (const k of LIST_FILTERS) if (f[k]) p[k] = f[k];
    if (f.fieldCode) p[`field.${f.fieldCode}`] = f.fieldValue;
    return p;
  }

  function textInput(name, label, value, attrs) {
    const id = `f-${name}`;
    return el('div', { class: 'field' },
      el('label', { for: id }, label),
      el('input', { id, name, value, testid: `filter-${name}`, autocomplete: 'off', ...attrs }));
  }

  function selectInput(name, label, value, options) {
    const id = `f-${name}`;
    const select = el('select', { id, name, testid: `filter-${name}` },
      el('option', { value: '' }, 'any'),
      options.map((o) => el('option', { value: o }, o.replace('_', ' '))));
    // A value from a hand-edited link that is not an option is kept (the API says if it is wrong).
    if (value && !options.includes(value)) select.appendChild(el('option', { value }, value));
    select.value = value;
    return el('div', { class: 'field' }, el('label', { for: id }, label), select);
  }

  function renderCalls(params) {
    const gen = state.gen;
    const f = listFilters(params);
    state.lastListHash = location.hash || '#/calls';

    const form = el('form', { class: 'filters', testid: 'filters', onsubmit: onFilter },
      textInput('since', 'Since', f.since, { type: 'date' }),
      textInput('until', 'Until', f.until, { type: 'date' }),
      textInput('ai_agent_id', 'Agent', f.ai_agent_id, { placeholder: 'ai_agent_id' }),
      textInput('user_id', 'User', f.user_id, { placeholder: 'user_id' }),
      textInput('q', 'Search', f.q, { type: 'search', placeholder: 'words in transcript, title, summary', class: 'wide' }),
      selectInput('satisfaction', 'Satisfaction', f.satisfaction, SATISFACTION),
      textInput('failed_rule', 'Failed rule', f.failed_rule, { placeholder: 'rule title' }),
      selectInput('status', 'Status', f.status, STATUSES),
      el('div', { class: 'field field-pair' },
        el('label', { for: 'f-field-code' }, 'Extracted field'),
        el('div', { class: 'pair' },
          el('input', { id: 'f-field-code', name: 'field_code', value: f.fieldCode, placeholder: 'code', testid: 'filter-field-code', autocomplete: 'off' }),
          el('span', { class: 'eq' }, '='),
          el('input', { id: 'f-field-value', name: 'field_value', value: f.fieldValue, placeholder: 'value', testid: 'filter-field-value', 'aria-label': 'Field value', autocomplete: 'off' }))),
      el('div', { class: 'field field-actions' },
        el('button', { type: 'submit', class: 'btn btn-primary', testid: 'apply-filters' }, 'Apply'),
        el('button', { type: 'button', class: 'btn', testid: 'reset-filters', onclick: () => navigate('#/calls') }, 'Reset')));

    const exportNote = el('span', { class: 'muted', testid: 'export-status' });
    const exports = el('div', { class: 'exports' },
      el('span', { class: 'muted' }, 'Export:'),
      ['csv', 'jsonl', 'parquet'].map((fmt) => el('button', {
        type: 'button', class: 'btn btn-small', testid: `export-${fmt}`, onclick: (ev) => doExport(fmt, ev.currentTarget),
      }, fmt === 'jsonl' ? 'JSONL' : fmt.toUpperCase())),
      exportNote);

    const count = el('span', { class: 'muted', testid: 'call-count' });
    const tbody = el('tbody', { testid: 'call-rows' });
    const table = el('table', { class: 'calls', testid: 'call-table' },
      el('thead', null, el('tr', null,
        ['Started', 'Agent', 'User', 'Duration', 'Turns', 'Status', 'Title', 'Satisfaction', 'Failed rules']
          .map((t) => el('th', { scope: 'col' }, t)))),
      tbody);
    const below = el('div', { class: 'below-table' });
    const more = el('button', { type: 'button', class: 'btn', testid: 'load-more', hidden: true, onclick: () => load(cursor) }, 'Load more');

    clear(app).appendChild(el('section', { class: 'page', testid: 'calls-page' },
      el('div', { class: 'page-head' }, el('h1', null, 'Calls'), count),
      form,
      el('p', { class: 'hint' }, 'Empty dates: the last 30 days. Search words match the transcript, title and summary.'),
      exports,
      el('div', { class: 'table-wrap' }, table),
      below, el('div', { class: 'more' }, more)));

    let cursor = null;
    let shown = 0;
    load(null);

    async function load(from) {
      more.disabled = true;
      clear(below).appendChild(loading(from ? 'Loading more calls…' : 'Loading calls…'));
      let data;
      try {
        data = await apiJson(`${API}/calls`, { ...listQuery(f), limit: f.limit, cursor: from });
      } catch (err) {
        if (gen !== state.gen) return;
        if (!err.handled) showError(err.message);
        clear(below).appendChild(el('div', { class: 'state state-error', testid: 'view-error' }, 'Could not load the calls.'));
        more.disabled = false;
        return;
      }
      if (gen !== state.gen) return;
      clear(below);
      const calls = list(data && data.calls);
      for (const call of calls) if (isObject(call)) tbody.appendChild(callRow(call));
      shown += calls.length;
      cursor = (data && data.next_cursor) || null;
      more.hidden = !cursor;
      more.disabled = false;
      count.textContent = `${shown} call${shown === 1 ? '' : 's'} shown${cursor ? ', more available' : ''}` +
        (data && data.view === 'redacted' ? ' · redacted view' : (data && data.view === 'raw' ? ' · raw view' : ''));
      if (!shown) below.appendChild(empty('No calls match these filters.'));
    }

    function onFilter(ev) {
      ev.preventDefault();
      const data = new FormData(form);
      const p = new URLSearchParams();
      for (const k of LIST_FILTERS) {
        const v = String(data.get(k) || '').trim();
        if (v) p.set(k, v);
      }
      const code = String(data.get('field_code') || '').trim();
      const value = String(data.get('field_value') || '').trim();
      if (value && !code) return showError('field: give the field code as well as its value.');
      if (code) p.set(`field.${code}`, value);
      if (f.limit !== PAGE_SIZE) p.set('limit', String(f.limit));
      clearError();
      navigate(hashWith('#/calls', p));
      return undefined;
    }

    /** Fetch the export with the token and save it through an <a download> and an object URL. */
    async function doExport(format, button) {
      button.disabled = true;
      exportNote.textContent = `Preparing ${format.toUpperCase()}…`;
      try {
        const resp = await apiFetch(`${API}/export`, { format, ...listQuery(f) });
        const blob = await resp.blob();
        const name = filenameFrom(resp.headers.get('Content-Disposition')) || `calls.${format}`;
        const url = URL.createObjectURL(blob);
        const a = el('a', { href: url, download: name, hidden: true, testid: 'export-link' });
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 60000);
        const rows = resp.headers.get('X-Export-Rows');
        const cut = resp.headers.get('X-Export-Truncated') === 'true';
        const counted = rows !== null ? `${rows} row${rows === '1' ? '' : 's'}, ` : '';
        exportNote.textContent = `Saved ${name} (${counted}${fmtBytes(blob.size)})` +
          (cut ? ' — truncated: narrow the filters to export everything.' : '.');
      } catch (err) {
        exportNote.textContent = '';
        if (!err.handled) showError(err.message || String(err));
      } finally {
        button.disabled = false;
      }
    }
  }

  /** The file name of a Content-Disposition header (filename*=UTF-8''… or filename="…"). */
  function filenameFrom(header) {
    if (!header) return null;
    const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(header);
    let name = null;
    if (star) {
      try { name = decodeURIComponent(star[1].trim()); } catch (e) { name = null; }
    }
    if (!name) {
      const plain = /filename\s*=\s*"?([^";]+)"?/.exec(header);
      name = plain ? plain[1].trim() : null;
    }
    // A name only, never a path.
    return name ? name.replace(/[/\\]/g, '_') : null;
  }

  function callRow(call) {
    const id = String(call.instance_id || '');
    const href = `#/calls/${encodeURIComponent(id)}`;
    const failed = list(call.failed_rules);
    const row = el('tr', {
      class: 'clickable', testid: 'call-row', tabindex: 0, dataset: { instanceId: id },
      onclick: (ev) => { if (!ev.target.closest('a')) navigate(href); },
      onkeydown: (ev) => { if (ev.key === 'Enter' && !ev.target.closest('a')) navigate(href); },
    },
    el('td', { class: 'nowrap' }, el('a', { href, title: call.started_at || '', testid: 'call-link' }, fmtTime(call.started_at))),
    el('td', { class: 'mono clip', title: call.ai_agent_id || '' }, call.ai_agent_id || DASH),
    el('td', { class: 'mono clip', title: call.user_id || '' }, call.user_id || DASH),
    el('td', { class: 'num' }, fmtDuration(call.duration_s)),
    el('td', { class: 'num' }, fmtNum(call.turns)),
    el('td', null, statusBadge(call.status)),
    el('td', { class: 'title-cell', title: call.title || '', testid: 'call-title' }, call.title || el('span', { class: 'muted' }, DASH)),
    el('td', null, satisfactionBadge(call.satisfaction)),
    el('td', null, failed.length ? failed.map((r) => badge(String(r), 'bad', 'failed-rule')) : el('span', { class: 'muted' }, DASH)));
    return row;
  }

  // ---------------------------------------------------------------------------------------------
  // One call.

  async function renderCall(id) {
    const gen = state.gen;
    const page = el('section', { class: 'page', testid: 'call-page' },
      el('a', { href: state.lastListHash, class: 'back', testid: 'back' }, '← Calls'),
      loading('Loading the call…'));
    clear(app).appendChild(page);
    let data;
    try {
      data = await apiJson(`${API}/calls/${encodeURIComponent(id)}`);
      if (!isObject(data)) data = {};
    } catch (err) {
      viewError(err, page, gen);
      if (gen === state.gen) page.prepend(el('a', { href: state.lastListHash, class: 'back' }, '← Calls'));
      return;
    }
    if (gen !== state.gen) return;
    const call = isObject(data.call) ? data.call : {};
    const transcript = list(data.transcript).filter(isObject);
    const recordings = list(data.recordings).filter(isObject);
    const analyses = isObject(data.analyses) ? data.analyses : {};
    const letters = list(data.dead_letters).length ? list(data.dead_letters) : list(call.dead_letters);

    // Recordings linked to a turn go next to it; the others are whole-call players.
    const turnIds = new Set(transcript.map((t) => String(t.id)));
    const byTurn = new Map();
    const wholeCall = [];
    for (const rec of recordings) {
      const tid = rec.turn_id === null || rec.turn_id === undefined ? null : String(rec.turn_id);
      if (tid !== null && turnIds.has(tid)) {
        if (!byTurn.has(tid)) byTurn.set(tid, []);
        byTurn.get(tid).push(rec);
      } else {
        wholeCall.push(rec);
      }
    }

    // append() (ours): a missing section (null) is skipped, never written as text.
    append(clear(page), [
      el('a', { href: state.lastListHash, class: 'back', testid: 'back' }, '← Calls'),
      el('div', { class: 'page-head' },
        el('h1', { testid: 'call-heading' }, call.title || 'Untitled call'),
        el('span', { class: 'mono muted', testid: 'call-id' }, call.instance_id || id)),
      viewNote(data.view),
      metaCard(call, data.call_log),
      letters.length ? deadLettersCard(letters) : null,
      el('div', { class: 'columns' },
        el('div', { class: 'col' },
          transcriptCard(transcript, byTurn),
          wholeCall.length ? recordingsCard(wholeCall) : null),
        el('div', { class: 'col' },
          analysisCard(analyses, call, list(data.rules)),
          callbacksCard(list(data.callbacks)),
          callLogCard(data.call_log)))]);
  }

  /** Which view of the text the API gave: the raw text needs an admin token with "pii": true. */
  function viewNote(view) {
    if (view === 'raw') {
      return el('p', { class: 'view-note view-raw', testid: 'view-note', dataset: { view } },
        'Raw view: personal data as the archive holds it (your token carries "pii": true).');
    }
    if (view === 'redacted') {
      return el('p', { class: 'view-note', testid: 'view-note', dataset: { view } },
        'Redacted view: ID, phone and card numbers and e-mails are masked. Raw text needs an admin token with "pii": true.');
    }
    return null;
  }

  function dl(pairs, testid) {
    return el('dl', { class: 'meta', testid },
      pairs.map(([label, value, key]) => el('div', { class: 'meta-item', dataset: key ? { key } : undefined },
        el('dt', null, label), el('dd', null, value === null || value === undefined || value === '' ? DASH : value))));
  }

  function metaCard(call, callLog) {
    const profile = call.profile
      ? `${call.profile}${call.profile_version !== null && call.profile_version !== undefined ? ` v${call.profile_version}` : ''}`
      : null;
    const log = isObject(callLog) ? callLog : {};
    return el('section', { class: 'card' },
      dl([
        ['Agent', call.ai_agent_id, 'agent'],
        ['User', call.user_id, 'user'],
        ['Started', call.started_at ? el('span', { title: call.started_at }, fmtTime(call.started_at)) : null, 'started'],
        ['Ended', call.ended_at ? fmtTime(call.ended_at) : null, 'ended'],
        ['Duration', fmtDuration(call.duration_s), 'duration'],
        ['Turns', fmtNum(call.turns), 'turns'],
        ['Status', statusBadge(call.status), 'status'],
        ['Hang-up by', call.hangup_role, 'hangup'],
        ['Profile', profile, 'profile'],
        ['Satisfaction', satisfactionBadge(call.satisfaction, 'meta-satisfaction'), 'satisfaction'],
        ['Tokens', call.total_tokens === null || call.total_tokens === undefined ? null : fmtNum(call.total_tokens), 'tokens'],
        ['Session', log.session_id, 'session'],
        ['Transcript', call.completeness, 'completeness'],
        ['LLM first packet p50 / p95', fmtMs(call.llm_p50_ms, call.llm_p95_ms), 'llm-latency'],
        ['TTS first packet p50 / p95', fmtMs(call.tts_p50_ms, call.tts_p95_ms), 'tts-latency'],
      ], 'call-meta'));
  }

  /** "620 / 1,300 ms", or null when the call has no latency figures. */
  function fmtMs(p50, p95) {
    if (p50 === null || p50 === undefined) return null;
    return `${fmtNum(Math.round(p50))} / ${fmtNum(Math.round(p95 ?? p50))} ms`;
  }

  function deadLettersCard(letters) {
    return el('section', { class: 'card card-alert', testid: 'dead-letters' },
      el('h2', null, 'Dead letters'),
      el('div', { class: 'table-wrap' }, el('table', { class: 'plain' },
        el('thead', null, el('tr', null, ['Step', 'Profile', 'Error code', 'Reason', 'When'].map((t) => el('th', null, t)))),
        el('tbody', null, letters.filter(isObject).map((d) => el('tr', { testid: 'dead-letter' },
          el('td', null, d.step || DASH),
          el('td', null, d.profile || DASH),
          el('td', { class: 'mono' }, d.error_code || DASH),
          el('td', null, d.reason || DASH),
          el('td', { class: 'nowrap' }, fmtTime(d.failed_at || d.at))))))));
  }

  /** An <audio> for a presigned recording URL (http(s) only; anything else is not linked). */
  function audioFor(rec, testid) {
    let src = null;
    try {
      const u = new URL(String(rec.url || ''), location.href);
      if (u.protocol === 'https:' || u.protocol === 'http:') src = u.href;
    } catch (e) { src = null; }
    if (!src) {
      return el('span', { class: 'muted small', testid: 'recording-unavailable' },
        rec.present === false ? 'recording not found in the archive' : 'no playable link for this recording');
    }
    return el('audio', { controls: true, preload: 'none', src, testid, title: rec.key || '' });
  }

  function transcriptCard(transcript, byTurn) {
    const card = el('section', { class: 'card', testid: 'transcript' },
      el('h2', null, 'Transcript ', el('span', { class: 'muted' }, `(${transcript.length} turns)`)));
    if (!transcript.length) {
      card.appendChild(empty('No transcript was archived for this call.', 'transcript-empty'));
      return card;
    }
    card.appendChild(el('ol', { class: 'transcript' }, transcript.map((t) => {
      const role = t.role ? String(t.role) : 'unknown';
      const recs = byTurn.get(String(t.id)) || [];
      return el('li', { class: `turn turn-${role === 'user' || role === 'agent' ? role : 'other'}`, testid: 'transcript-turn', dataset: { role } },
        el('div', { class: 'turn-head' },
          el('span', { class: 'speaker', testid: 'turn-speaker' }, roleLabel(t.role)),
          el('span', { class: 'time muted', testid: 'turn-time' }, fmtClock(t.begin)),
          t.type && !['text', 'normal'].includes(t.type) ? el('span', { class: 'muted small', testid: 'turn-type' }, String(t.type)) : null,
          // Reconciled transcript: a turn only one witness had (e.g. lost from the call log at hang-up).
          t.source === 'chat_record' ? el('span', { class: 'muted small', testid: 'turn-source', title: 'Missing from ICE\'s call log; kept from the chat records' }, 'from chat records') : null,
          t.source === 'call_log' ? el('span', { class: 'muted small', testid: 'turn-source', title: 'Only in ICE\'s call log' }, 'call log only') : null),
        el('p', { class: 'turn-text', testid: 'turn-text' }, asText(t.text)),
        recs.map((r) => audioFor(r, 'turn-audio')));
    })));
    return card;
  }

  function recordingsCard(recs) {
    return el('section', { class: 'card', testid: 'recordings' },
      el('h2', null, 'Recordings'),
      el('ul', { class: 'recordings' }, recs.map((r) => el('li', { class: 'recording' },
        el('div', { class: 'rec-head' },
          el('strong', null, r.role ? `${roleLabel(r.role)} audio` : 'Whole call'),
          r.event ? el('span', { class: 'muted small' }, ` · ${r.event}`) : null,
          r.field ? el('span', { class: 'muted small' }, ` · ${r.field}`) : null,
          r.turn_id !== null && r.turn_id !== undefined ? el('span', { class: 'muted small' }, ` · turn ${r.turn_id}`) : null,
          r.expires_at ? el('span', { class: 'muted small' }, ` · link expires ${fmtTime(r.expires_at)}`) : null),
        audioFor(r, 'call-audio')))));
  }

  /** The analyses, one tab per profile; the call's own profile first. */
  function analysisCard(analyses, call, indexRules) {
    const names = Object.keys(analyses);
    const card = el('section', { class: 'card', testid: 'analysis' }, el('h2', null, 'Analysis'));
    if (!names.length) {
      card.appendChild(empty(call.status === 'analysis_failed' ? 'The analysis failed (see the dead letters).'
        : 'This call has not been analysed (yet).', 'analysis-empty'));
      return card;
    }
    let current = names.includes(call.profile) ? call.profile : names.includes('default') ? 'default' : names[0];
    const body = el('div', { class: 'analysis-body' });
    if (names.length > 1) {
      const tabs = el('div', { class: 'tabs', role: 'tablist', testid: 'profile-tabs' }, names.map((n) => el('button', {
        type: 'button', role: 'tab', class: 'tab', testid: 'profile-tab', dataset: { profile: n },
        onclick: () => { current = n; show(); },
      }, n)));
      card.appendChild(tabs);
    }
    card.appendChild(body);
    show();
    return card;

    function show() {
      for (const tab of card.querySelectorAll('[data-testid="profile-tab"]')) {
        const on = tab.dataset.profile === current;
        tab.classList.toggle('active', on);
        tab.setAttribute('aria-selected', String(on));
      }
      // The index's rules are already normalised; they belong to the call's own profile.
      const rules = current === call.profile && indexRules.length ? indexRules : null;
      clear(body).appendChild(analysisPanel(current, analyses[current], rules));
    }
  }

  function analysisPanel(name, analysis, indexRules) {
    const a = isObject(analysis) ? analysis : {};
    const prof = isObject(a.profile) ? a.profile : {};
    const usage = isObject(a.usage) ? a.usage : {};
    const result = isObject(a.result) ? a.result : {};
    const parsed = result.parsed;
    const panel = el('div', { class: 'analysis-panel', testid: 'analysis-panel', dataset: { profile: name } });

    append(panel, [el('p', { class: 'muted small analysis-meta' },
      a.status ? badge(String(a.status), a.status === 'analysed' ? 'ok' : 'bad', 'analysis-status') : null, ' ',
      `profile ${prof.name || name}`, prof.version !== undefined && prof.version !== null ? ` v${prof.version}` : '',
      prof.hash ? ` (${String(prof.hash).slice(0, 12)})` : '',
      a.model ? ` · model ${a.model}` : '',
      a.analysed_at ? ` · analysed ${fmtTime(a.analysed_at)}` : '',
      usage.total_tokens !== undefined && usage.total_tokens !== null
        ? ` · ${fmtNum(usage.total_tokens)} tokens (${fmtNum(usage.input_tokens)} in, ${fmtNum(usage.output_tokens)} out)` : '')]);

    if (a.reason && a.status !== 'analysed') {
      panel.appendChild(el('p', { class: 'state-error', testid: 'analysis-reason' }, asText(a.reason)));
    }

    if (!isObject(parsed)) {
      // No structured result: show what the model answered, as text.
      const text = typeof parsed === 'string' && parsed ? parsed : result.text;
      panel.appendChild(text ? el('pre', { class: 'result-text', testid: 'analysis-text' }, asText(text))
        : empty('This analysis has no result.', 'analysis-empty'));
      if (indexRules) panel.appendChild(rulesBlock(indexRules));
      return panel;
    }

    const known = new Set(['summary', 'title', 'keywords', 'fields', 'satisfaction', 'service_inspection', 'questions_and_answer']);
    if (parsed.title) panel.appendChild(block('Title', el('p', { class: 'analysis-title', testid: 'analysis-title' }, asText(parsed.title))));
    if (parsed.summary) panel.appendChild(block('Summary', el('p', { class: 'summary', testid: 'analysis-summary' }, asText(parsed.summary))));

    let keywords = parsed.keywords;
    if (typeof keywords === 'string') keywords = keywords.split(/[,，、]/);
    keywords = list(keywords).map((k) => asText(k).trim()).filter(Boolean);
    if (keywords.length) panel.appendChild(block('Keywords', el('div', { class: 'chips' }, keywords.map((k) => el('span', { class: 'chip', testid: 'keyword' }, k)))));

    if (parsed.satisfaction !== undefined && parsed.satisfaction !== null) {
      const s = isObject(parsed.satisfaction) ? (parsed.satisfaction.satisfaction ?? parsed.satisfaction.result) : parsed.satisfaction;
      panel.appendChild(block('Satisfaction', satisfactionBadge(s === undefined ? asText(parsed.satisfaction) : asText(s), 'analysis-satisfaction')));
    }

    const fields = fieldPairs(parsed.fields);
    if (fields.length) {
      panel.appendChild(block('Extracted fields', el('table', { class: 'plain fields', testid: 'fields' },
        el('tbody', null, fields.map(([code, value]) => el('tr', { testid: 'field-row', dataset: { code } },
          el('th', { scope: 'row', class: 'mono' }, code), el('td', null, value === '' ? DASH : value)))))));
    }

    const rules = indexRules || list(parsed.service_inspection).filter(isObject).map((r) => ({
      title: r.title || r.name || r.rule, result: ruleResult(r), reason: r.reason,
    })).filter((r) => r.title);
    if (rules.length) panel.appendChild(rulesBlock(rules));

    const qa = list(parsed.questions_and_answer).filter(isObject);
    if (qa.length) {
      panel.appendChild(block('Questions and answers', el('ol', { class: 'qa' }, qa.map((p) => el('li', { testid: 'qa-pair' },
        el('p', { class: 'q' }, el('span', { class: 'qa-label' }, 'Q'), asText(p.question)),
        el('p', { class: 'a' }, el('span', { class: 'qa-label' }, 'A'), asText(p.answer)))))));
    }

    const other = Object.keys(parsed).filter((k) => !known.has(k));
    if (other.length) {
      panel.appendChild(el('details', { class: 'other', testid: 'analysis-other' },
        el('summary', null, `Other results (${other.join(', ')})`),
        other.map((k) => el('div', null, el('h4', null, k), el('pre', { class: 'result-text' }, asText(parsed[k]))))));
    }
    if (panel.querySelectorAll('.block, details, pre').length === 0) panel.appendChild(empty('The result holds nothing to show.', 'analysis-empty'));
    return panel;
  }

  function block(title, content) {
    return el('div', { class: 'block' }, el('h3', null, title), content);
  }

  /** [code, value text] pairs from {code: value} or [{code, value}]. */
  function fieldPairs(fields) {
    if (isObject(fields)) return Object.entries(fields).map(([k, v]) => [k, asText(v)]);
    return list(fields).filter((f) => isObject(f) && f.code).map((f) => [String(f.code), asText(f.value)]);
  }

  function rulesBlock(rules) {
    return block('Inspection', el('ul', { class: 'rules', testid: 'rules' }, rules.filter(isObject).map((r) => {
      const result = r.result === 'pass' || r.result === 'fail' ? r.result : ruleResult(r);
      return el('li', { class: `rule rule-${result === 'pass' || result === 'fail' ? result : 'other'}`, testid: 'rule', dataset: { result } },
        badge(result === 'pass' ? 'PASS' : result === 'fail' ? 'FAIL' : result.toUpperCase(),
          result === 'pass' ? 'ok' : result === 'fail' ? 'bad' : 'plain', 'rule-result'),
        el('span', { class: 'rule-title', testid: 'rule-title' }, asText(r.title)),
        r.reason ? el('p', { class: 'rule-reason muted' }, asText(r.reason)) : null);
    })));
  }

  function callbacksCard(callbacks) {
    const items = callbacks.filter(isObject).slice().sort((a, b) => {
      const ta = toDate(a.time), tb = toDate(b.time);
      return (ta ? ta.getTime() : 0) - (tb ? tb.getTime() : 0);
    });
    return el('section', { class: 'card', testid: 'callbacks' },
      el('h2', null, 'Callback timeline'),
      items.length ? el('ol', { class: 'timeline' }, items.map((c) => el('li', { testid: 'callback-event' },
        el('span', { class: 'time nowrap' }, fmtTime(c.time)),
        el('span', { class: 'event' }, c.event || DASH),
        // The object's name only (its time, digest and event); the whole key on hover.
        c.key ? el('span', { class: 'mono muted small key', title: c.key }, String(c.key).split('/').pop()) : null)))
        : empty('No callbacks were stored.', 'callbacks-empty'));
  }

  function callLogCard(callLog) {
    if (!isObject(callLog)) return null;
    let info = callLog.call_info;
    if (typeof info === 'string') {
      try { info = JSON.parse(info); } catch (e) { /* keep the text */ }
    }
    const redaction = isObject(callLog.redaction) ? (callLog.redaction.mode || asText(callLog.redaction)) : callLog.redaction;
    return el('section', { class: 'card', testid: 'call-log' },
      el('details', null,
        el('summary', null, el('h2', { class: 'inline' }, 'Call log')),
        dl([
          ['Status', callLog.status], ['Session', callLog.session_id],
          ['Archived', callLog.archived_at ? fmtTime(callLog.archived_at) : null], ['Redaction', redaction],
        ]),
        info !== undefined && info !== null
          ? (isObject(info) ? dl(Object.entries(info).map(([k, v]) => [k, asText(v)]), 'call-info')
            : el('pre', { class: 'result-text' }, asText(info)))
          : null));
  }

  // ---------------------------------------------------------------------------------------------
  // Trends.

  /** The vendored ECharts, loaded once (a same-origin <script>, allowed by script-src 'self'). */
  function loadECharts() {
    if (window.echarts) return Promise.resolve(window.echarts);
    if (!state.echarts) {
      state.echarts = new Promise((resolve, reject) => {
        const s = el('script', { src: ECHARTS_SRC, async: true });
        s.addEventListener('load', () => (window.echarts ? resolve(window.echarts) : reject(new Error('ECharts did not load'))));
        s.addEventListener('error', () => { state.echarts = null; reject(new Error(`could not load ${ECHARTS_SRC}`)); });
        document.head.appendChild(s);
      });
    }
    return state.echarts;
  }

  function renderTrends(params) {
    const gen = state.gen;
    const f = {};
    for (const k of TREND_FILTERS) f[k] = (params.get(k) || '').trim();
    const form = el('form', { class: 'filters', testid: 'trend-filters', onsubmit: onFilter },
      textInput('since', 'Since', f.since, { type: 'date' }),
      textInput('until', 'Until', f.until, { type: 'date' }),
      textInput('ai_agent_id', 'Agent', f.ai_agent_id, { placeholder: 'ai_agent_id' }),
      textInput('user_id', 'User', f.user_id, { placeholder: 'user_id' }),
      el('div', { class: 'field field-actions' },
        el('button', { type: 'submit', class: 'btn btn-primary', testid: 'apply-filters' }, 'Apply'),
        el('button', { type: 'button', class: 'btn', onclick: () => navigate('#/trends') }, 'Reset')));
    const range = el('span', { class: 'muted', testid: 'trend-range' });
    const tiles = el('div', { class: 'tiles', testid: 'tiles' });
    const charts = {
      perDay: chartBox('Calls per day', 'chart-calls-per-day', 'wide'),
      satisfaction: chartBox('Satisfaction', 'chart-satisfaction'),
      rules: chartBox('Inspection failure rate per rule', 'chart-rule-failures'),
      keywords: chartBox('Top keywords', 'chart-keywords'),
    };
    const status = el('div', { class: 'below-table' }, loading('Loading the figures…'));
    clear(app).appendChild(el('section', { class: 'page', testid: 'trends-page' },
      el('div', { class: 'page-head' }, el('h1', null, 'Trends'), range),
      form, status, tiles,
      el('div', { class: 'charts' }, Object.values(charts).map((c) => c.card))));

    Promise.all([apiJson(`${API}/stats`, f), loadECharts()]).then(([stats, echarts]) => {
      if (gen !== state.gen) return;
      clear(status);
      const s = isObject(stats) ? stats : {};
      range.textContent = s.since || s.until ? `${s.since || '…'} – ${s.until || '…'}` : '';
      drawTiles(tiles, s);
      if (!Number(s.calls)) status.appendChild(empty('No calls in this range.'));
      draw(echarts, charts.perDay.chart, perDayOption(s));
      draw(echarts, charts.satisfaction.chart, satisfactionOption(s));
      draw(echarts, charts.rules.chart, rulesOption(s));
      draw(echarts, charts.keywords.chart, keywordsOption(s));
    }).catch((err) => {
      if (gen !== state.gen) return;
      if (!err.handled) showError(err.message || String(err));
      clear(status).appendChild(el('div', { class: 'state state-error', testid: 'view-error' }, 'Could not load the trends.'));
    });

    function onFilter(ev) {
      ev.preventDefault();
      const data = new FormData(form);
      const p = new URLSearchParams();
      for (const k of TREND_FILTERS) {
        const v = String(data.get(k) || '').trim();
        if (v) p.set(k, v);
      }
      clearError();
      navigate(hashWith('#/trends', p));
    }
  }

  function chartBox(title, testid, extra) {
    const chart = el('div', { class: 'chart', testid, role: 'img', 'aria-label': title });
    return { chart, card: el('section', { class: `card chart-card ${extra || ''}` }, el('h2', null, title), chart) };
  }

  function tile(label, value, sub, testid) {
    return el('div', { class: 'tile', testid },
      el('div', { class: 'tile-label' }, label),
      el('div', { class: 'tile-value', testid: `${testid}-value` }, value),
      sub ? el('div', { class: 'tile-sub muted' }, sub) : null);
  }

  function drawTiles(tiles, s) {
    const d = isObject(s.duration_s) ? s.duration_s : {};
    const t = isObject(s.tokens) ? s.tokens : {};
    const st = isObject(s.status) ? s.status : {};
    const statusText = Object.entries(st).map(([k, v]) => `${k.replace('_', ' ')} ${fmtNum(v)}`).join(' · ');
    append(clear(tiles), [
      tile('Calls', fmtNum(s.calls), statusText || null, 'tile-calls'),
      tile('Average duration', fmtDuration(d.avg), d.p50 !== undefined ? `median ${fmtDuration(d.p50)}` : null, 'tile-avg-duration'),
      tile('p95 duration', fmtDuration(d.p95), d.max !== undefined ? `longest ${fmtDuration(d.max)}` : null, 'tile-p95-duration'),
      tile('Tokens', fmtNum(t.total), t.input !== undefined ? `${fmtNum(t.input)} in · ${fmtNum(t.output)} out` : null, 'tile-tokens')]);
  }

  function draw(echarts, node, option) {
    const chart = echarts.init(node, null, { renderer: 'canvas' });
    chart.setOption(option);
    state.charts.push(chart);
  }

  // Tooltips are drawn in the canvas (renderMode richText): no HTML is built from data.
  const TOOLTIP = { renderMode: 'richText', confine: true };
  const GRID = { left: 8, right: 16, top: 36, bottom: 8, containLabel: true };

  function noData(text) {
    return {
      title: { text: text || 'No data for this range', left: 'center', top: 'middle', textStyle: { color: '#868e96', fontSize: 14, fontWeight: 'normal' } },
      xAxis: { show: false }, yAxis: { show: false }, series: [],
    };
  }

  /** Every day of the range (days without calls as zero), if the range is known and sane. */
  function fillDays(s) {
    const byDay = new Map(list(s.per_day).filter(isObject).map((d) => [String(d.day), d]));
    const start = /^\d{4}-\d{2}-\d{2}$/.test(s.since || '') ? new Date(`${s.since}T00:00:00Z`) : null;
    const end = /^\d{4}-\d{2}-\d{2}$/.test(s.until || '') ? new Date(`${s.until}T00:00:00Z`) : null;
    if (!start || !end || end < start || (end - start) / 86400000 > 800) {
      return [...byDay.values()].sort((a, b) => String(a.day).localeCompare(String(b.day)));
    }
    const out = [];
    for (let t = start.getTime(); t <= end.getTime(); t += 86400000) {
      const day = new Date(t).toISOString().slice(0, 10);
      out.push(byDay.get(day) || { day, calls: 0, analysed: 0, failed: 0, avg_duration_s: null });
    }
    return out;
  }

  function perDayOption(s) {
    const days = fillDays(s);
    if (!days.length) return noData();
    const num = (v) => (Number.isFinite(Number(v)) ? Number(v) : 0);
    return {
      tooltip: { ...TOOLTIP, trigger: 'axis' },
      legend: { top: 0 },
      grid: GRID,
      xAxis: { type: 'category', data: days.map((d) => d.day) },
      yAxis: [
        { type: 'value', name: 'calls', minInterval: 1 },
        { type: 'value', name: 'avg s', splitLine: { show: false } },
      ],
      series: [
        { name: 'Calls', type: 'bar', barMaxWidth: 36, data: days.map((d) => num(d.calls)), itemStyle: { color: COLORS.calls } },
        { name: 'Failed', type: 'bar', barMaxWidth: 36, data: days.map((d) => num(d.failed)), itemStyle: { color: COLORS.failed } },
        {
          name: 'Avg duration (s)', type: 'line', yAxisIndex: 1, connectNulls: true, itemStyle: { color: COLORS.line },
          data: days.map((d) => (d.avg_duration_s === null || d.avg_duration_s === undefined ? null : Math.round(num(d.avg_duration_s) * 10) / 10)),
        },
      ],
    };
  }

  function satisfactionOption(s) {
    const data = Object.entries(isObject(s.satisfaction) ? s.satisfaction : {})
      .map(([name, value]) => ({ name: name || 'unknown', value: Number(value) || 0 }))
      .filter((d) => d.value > 0);
    if (!data.length) return noData('No satisfaction results');
    return {
      tooltip: { ...TOOLTIP, trigger: 'item' },
      legend: { bottom: 0 },
      series: [{
        type: 'pie', radius: ['35%', '65%'], center: ['50%', '45%'],
        label: { formatter: '{b}: {c} ({d}%)' },
        data: data.map((d) => (COLORS[d.name] ? { ...d, itemStyle: { color: COLORS[d.name] } } : d)),
      }],
    };
  }

  function rulesOption(s) {
    const rules = list(s.rules).filter((r) => isObject(r) && r.title).map((r) => {
      const checked = Number(r.checked) || 0, failed = Number(r.failed) || 0;
      let rate = checked ? failed / checked : Number(r.failure_rate) || 0;
      if (rate > 1) rate /= 100;   // a percentage
      return { title: String(r.title), rate: Math.round(rate * 1000) / 10, checked, failed };
    }).sort((a, b) => a.rate - b.rate);   // the worst on top (category axes grow upwards)
    if (!rules.length) return noData('No inspection results');
    return {
      tooltip: { ...TOOLTIP, trigger: 'axis', axisPointer: { type: 'shadow' } },
      grid: { ...GRID, top: 16 },
      xAxis: { type: 'value', max: 100, axisLabel: { formatter: '{value}%' } },
      yAxis: { type: 'category', data: rules.map((r) => r.title), axisLabel: { width: 180, overflow: 'truncate' } },
      series: [{
        name: 'Failure rate (%)', type: 'bar', barMaxWidth: 28, itemStyle: { color: COLORS.failed },
        label: { show: true, position: 'right', formatter: (p) => `${p.value}% (${rules[p.dataIndex].failed}/${rules[p.dataIndex].checked})` },
        data: rules.map((r) => r.rate),
      }],
    };
  }

  function keywordsOption(s) {
    const words = list(s.keywords).filter((k) => isObject(k) && k.word)
      .map((k) => ({ word: String(k.word), calls: Number(k.calls) || 0 }))
      .sort((a, b) => b.calls - a.calls).slice(0, 15).reverse();
    if (!words.length) return noData('No keywords');
    return {
      tooltip: { ...TOOLTIP, trigger: 'axis', axisPointer: { type: 'shadow' } },
      grid: { ...GRID, top: 16 },
      xAxis: { type: 'value', minInterval: 1 },
      yAxis: { type: 'category', data: words.map((w) => w.word), axisLabel: { width: 140, overflow: 'truncate' } },
      series: [{ name: 'Calls', type: 'bar', barMaxWidth: 28, itemStyle: { color: COLORS.keyword }, label: { show: true, position: 'right' }, data: words.map((w) => w.calls) }],
    };
  }

  window.addEventListener('resize', () => {
    for (const chart of state.charts) chart.resize();
  });

  // ---------------------------------------------------------------------------------------------
  // Start.

  document.querySelector('[data-testid="sign-out"]').addEventListener('click', () => {
    // The console keeps nothing else in this tab's sessionStorage: clear it all.
    try { sessionStorage.clear(); } catch (e) { /* storage disabled */ }
    state.afterSignIn = null;
    clearError();
    navigate('#/signin');
  });

  window.addEventListener('hashchange', () => {
    captureTokenFromHash();
    clearError();
    route();
  });

  captureTokenFromHash();
  if (!location.hash || location.hash === '#' || location.hash === '#/') {
    history.replaceState(null, '', `${location.pathname}${location.search}#/calls`);
  }
  route();
})();
