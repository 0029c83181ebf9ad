// The game-day console. No library, nothing from the network: the server's CSP forbids it.
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const NS = 'http://www.w3.org/2000/svg';

  // The token arrives once in the address (?token=…); it is kept for this tab only and removed
  // from the address bar, so it is not in the history, a bookmark or a screenshot.
  const params = new URLSearchParams(location.search);
  if (params.get('token')) {
    sessionStorage.setItem('faultline-token', params.get('token'));
    history.replaceState(null, '', location.pathname);
  }
  const token = sessionStorage.getItem('faultline-token') || '';
  const whoInput = $('who');
  whoInput.value = localStorage.getItem('faultline-who') || '';
  whoInput.addEventListener('change', () => localStorage.setItem('faultline-who', whoInput.value.trim()));

  let errTimer;
  // Calls are numbered when they start; a call that succeeds hides only an error shown by a
  // call that started before it. (A HALT's reply can arrive after the refused inject that
  // followed it: its success must not hide that refusal. CI saw exactly this.)
  let calls = 0, errFrom = 0;
  function showError(msg, from) {
    errFrom = from === undefined ? calls : from;
    const e = $('error');
    e.textContent = msg;
    e.hidden = false;
    clearTimeout(errTimer);
    errTimer = setTimeout(() => { e.hidden = true; }, 10000);
  }

  async function post(path, body) {
    const sep = path.includes('?') ? '&' : '?';
    const url = path + sep + 'who=' + encodeURIComponent(whoInput.value.trim());
    const opts = { method: 'POST', headers: { 'Authorization': 'Bearer ' + token } };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const mine = ++calls;
    let resp;
    try {
      resp = await fetch(url, opts);
    } catch (err) {
      showError('console unreachable: ' + err.message, mine);
      return null;
    }
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      showError(data.error || (resp.status + ' ' + resp.statusText), mine);
      return null;
    }
    // A background beat hides no one's error, and no call hides a later call's error.
    if (path !== '/api/heartbeat' && errFrom < mine) $('error').hidden = true;
    return data;
  }

  // ---- HALT: one click or one key, from any console.
  function halt() { post('/api/halt'); }
  $('halt').addEventListener('click', halt);
  document.addEventListener('keydown', (ev) => {
    const t = ev.target;
    if (t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA')) return;
    if ((ev.key === 'h' || ev.key === 'H') && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
      ev.preventDefault();
      halt();
    }
  });
  $('release').addEventListener('click', () => post('/api/release'));
  $('healall').addEventListener('click', () => post('/api/heal'));

  // ---- Heartbeat: the dead-man switch heals this console's faults when these stop.
  setInterval(() => post('/api/heartbeat'), 3000);
  post('/api/heartbeat');

  // ---- The inject form, built from the fault types' own parameters.
  let catalog = null;
  function paramValue(raw) {
    // The CLI's key=value rule (cmd/faultline parseParams): integers, numbers and booleans
    // keep their type, anything else is text; so both are validated by the same code.
    if (/^[-+]?\d+$/.test(raw)) return parseInt(raw, 10);
    if (raw !== '' && !isNaN(Number(raw))) return Number(raw);
    if (raw === 'true' || raw === 'false') return raw === 'true';
    return raw;
  }
  function fillFaultForm() {
    const f = catalog.faults.find((x) => x.name === $('f-name').value);
    if (!f) return;
    const targets = f.kind === 'network' ? catalog.edges : catalog.components;
    const sel = $('f-target');
    const keep = sel.value;
    sel.replaceChildren(...targets.map((t) => new Option(t, t)));
    if (targets.includes(keep)) sel.value = keep;
    const box = $('f-params');
    box.replaceChildren();
    for (const p of f.params) {
      const label = document.createElement('label');
      label.textContent = p.name + ' ';
      const input = document.createElement('input');
      input.name = p.name;
      input.size = 9;
      input.dataset.param = p.name;
      input.placeholder = p.type + (p.optional ? ' (optional)' : '');
      label.append(input);
      box.append(label);
    }
  }
  async function loadCatalog() {
    const resp = await fetch('/api/catalog');
    catalog = await resp.json();
    $('f-name').replaceChildren(...catalog.faults.map((f) => new Option(f.name + ' (' + f.kind + ')', f.name)));
    if (catalog.faults.some((f) => f.name === 'latency')) $('f-name').value = 'latency';
    fillFaultForm();
    if (!catalog.load && !catalog.run) $('load-section').hidden = true;
    if (catalog.run) { // a scenario run's load: shown, driven by the scenario
      $('newstream').style.display = 'none';
      $('slos').style.display = 'none';
      $('load-section').querySelector('h2').textContent = 'Load (the scenario\'s: HALT stops it and ends the run as halted)';
    }
  }
  $('f-name').addEventListener('change', fillFaultForm);
  $('inject').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const params = {};
    for (const input of $('f-params').querySelectorAll('input')) {
      const v = input.value.trim();
      if (v !== '') params[input.dataset.param] = paramValue(v);
    }
    const body = { fault: $('f-name').value, target: $('f-target').value, params: params };
    const forV = $('f-for').value.trim();
    if (forV !== '') body.for = paramValue(forV);
    await post('/api/faults', body);
  });

  // ---- Load and SLOs.
  $('newstream').addEventListener('submit', (ev) => {
    ev.preventDefault();
    post('/api/load', { name: $('s-name').value.trim(), request: $('s-req').value.trim(), rate: Number($('s-rate').value) });
  });
  let slos = [];
  $('slos').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const load = $('slo-load').value.trim();
    const th = $('slo-th').value.split(',').map((s) => s.trim()).filter((s) => s);
    const next = slos.filter((s) => s.load !== load);
    if (th.length) next.push({ load: load, thresholds: th });
    post('/api/slos', next);
  });

  // ---- Notes.
  $('note').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const text = $('note-text').value;
    if (text.trim() === '') return;
    if (await post('/api/notes', { text: text })) $('note-text').value = '';
  });

  // ---- Rendering.
  const fmtT = (s) => {
    s = Math.max(0, Math.round(s));
    const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = s % 60;
    return (h ? h + ':' + String(m).padStart(2, '0') : m) + ':' + String(sec).padStart(2, '0');
  };
  const fmtMs = (v) => v >= 1000 ? (v / 1000).toFixed(2) + ' s' : v >= 10 ? Math.round(v) + ' ms' : v.toFixed(1) + ' ms';
  const fmtPct = (v) => (v * 100).toFixed(v > 0 && v < 0.01 ? 2 : 1) + ' %';
  function el(tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  const POS = {
    client: [5, 190], gateway: [175, 190], redirect: [340, 60], link: [340, 200], analytics: [340, 350],
    redis: [570, 15], 'link-db': [570, 145], billing: [570, 255], 'analytics-db': [570, 385], nats: [770, 200],
  };
  const W = 112, H = 34;
  function pos(name, i) { return POS[name] || [770, 20 + 40 * (i % 9)]; }
  function renderMap(v) {
    const svg = $('map');
    const nodes = {};
    v.nodes.forEach((n, i) => { nodes[n.name] = { n: n, p: pos(n.name, i) }; });
    const parts = [];
    for (const e of v.edges) {
      const a = nodes[e.from], b = nodes[e.to];
      if (!a || !b) continue;
      const x1 = a.p[0] + W / 2, y1 = a.p[1] + H / 2, x2 = b.p[0] + W / 2, y2 = b.p[1] + H / 2;
      const cls = 'edge ' + e.health + (e.faulted ? ' faulted' : '');
      const line = el('line', { x1: x1, y1: y1, x2: x2, y2: y2, class: cls, 'data-edge': e.name, 'data-last-error': e.last_error_s || '' });
      const title = el('title', {}, e.name + ': ' + e.calls + ' calls in ' + v.window_s + ' s, errors ' + fmtPct(e.error_rate) +
        (e.last_error_s ? ' (last ' + Math.max(0, v.elapsed_s - e.last_error_s).toFixed(1) + ' s ago)' : '') +
        ', p50 ' + fmtMs(e.p50_ms) + ', p99 ' + fmtMs(e.p99_ms) + (e.breaker ? ', breaker ' + e.breaker : '') +
        (e.bulkhead_total ? ', bulkhead rejections ' + e.bulkhead_rejected + ' now / ' + e.bulkhead_total + ' total' : ''));
      line.append(title);
      parts.push(line);
      const mx = x1 + (x2 - x1) * 0.5, my = y1 + (y2 - y1) * 0.5 - 4;
      const label = el('text', { x: mx, y: my, class: 'elabel', 'text-anchor': 'middle', 'data-edge-label': e.name });
      if (e.calls > 0) {
        label.append(el('tspan', { 'data-p99': e.p99_ms }, 'p99 ' + fmtMs(e.p99_ms)));
        if (e.error_rate > 0) label.append(el('tspan', {}, ' · ' + fmtPct(e.error_rate)));
      }
      if (e.breaker && e.breaker !== 'closed') label.append(el('tspan', { class: 'breaker-' + e.breaker }, ' ⚡' + e.breaker));
      if (e.bulkhead_rejected > 0) label.append(el('tspan', { class: 'breaker-open' }, ' bulkhead ' + e.bulkhead_rejected));
      parts.push(label);
    }
    for (const name in nodes) {
      const { n, p } = nodes[name];
      const g = el('g', { class: 'node ' + n.health + (n.faulted ? ' faulted' : ''), transform: 'translate(' + p[0] + ',' + p[1] + ')', 'data-node': name });
      g.append(el('rect', { width: W, height: H }));
      g.append(el('text', { x: W / 2, y: 14, 'text-anchor': 'middle', 'font-weight': 'bold' }, name));
      let sub = n.state && n.state !== 'ready' ? n.state : '';
      if (n.calls > 0) sub = (sub ? sub + ' · ' : '') + fmtPct(n.error_rate) + ' · p99 ' + fmtMs(n.p99_ms);
      g.append(el('text', { x: W / 2, y: 28, 'text-anchor': 'middle', 'font-size': '10' }, sub));
      g.append(el('title', {}, name + (n.state ? ' (' + n.state + ')' : '') + ': ' + n.calls + ' calls in, errors ' + fmtPct(n.error_rate) + ', p99 ' + fmtMs(n.p99_ms)));
      parts.push(g);
    }
    svg.replaceChildren(...parts);
    $('mapnote').textContent = 'learned from ' + v.spans.toLocaleString() + ' spans; figures over the last ' + v.window_s + ' s';
  }

  function renderFaults(v) {
    const body = $('faults').tBodies[0];
    body.replaceChildren(...v.faults.map((f) => {
      const tr = document.createElement('tr');
      const params = f.params ? Object.entries(f.params).map(([k, x]) => k + '=' + x).join(' ') : '';
      const cells = ['#' + f.id, f.fault + (params ? ' ' + params : ''), f.target, f.who || f.source, 'T+' + fmtT(f.at_s), f.left_s < 0 ? 'until healed' : fmtT(f.left_s)];
      cells.forEach((c, i) => { const td = document.createElement('td'); td.textContent = c; if (i === 2) td.className = 'target'; tr.append(td); });
      const td = document.createElement('td');
      const b = document.createElement('button');
      b.textContent = 'Heal';
      b.className = 'small';
      b.addEventListener('click', () => post('/api/faults/' + f.id + '/heal'));
      td.append(b);
      tr.append(td);
      tr.dataset.fault = f.fault;
      tr.dataset.target = f.target;
      return tr;
    }));
    if (!v.faults.length) {
      const tr = document.createElement('tr');
      const td = document.createElement('td');
      td.colSpan = 7;
      td.textContent = 'none';
      tr.append(td);
      body.append(tr);
    }
  }

  const streamEls = {};
  function streamBox(s) {
    if (streamEls[s.name]) return streamEls[s.name];
    const box = document.createElement('div');
    box.className = 'stream';
    box.dataset.stream = s.name;
    const head = document.createElement('header');
    const title = document.createElement('strong');
    title.textContent = s.name;
    const req = document.createElement('code');
    req.textContent = s.request;
    const stats = document.createElement('span');
    const rate = document.createElement('input');
    rate.size = 6;
    rate.value = s.rate;
    const set = document.createElement('button');
    set.textContent = 'Set rate';
    set.className = 'small';
    set.addEventListener('click', () => post('/api/load', { name: s.name, request: s.request, rate: Number(rate.value) }));
    const stop = document.createElement('button');
    stop.className = 'small';
    stop.addEventListener('click', () => {
      if (stop.dataset.running === 'true') post('/api/load/' + encodeURIComponent(s.name) + '/stop');
      else post('/api/load', { name: s.name, request: s.request, rate: Number(rate.value) });
    });
    if (catalog.run) head.append(title, req, stats);
    else head.append(title, req, stats, rate, set, stop);
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('viewBox', '0 0 600 110');
    svg.setAttribute('class', 'chart');
    svg.setAttribute('preserveAspectRatio', 'none');
    box.append(head, svg);
    $('streams').append(box);
    streamEls[s.name] = { box, stats, stop, svg, rate };
    return streamEls[s.name];
  }
  function renderStreams(v) {
    for (const s of v.streams || []) {
      const e = streamBox(s);
      e.stop.textContent = s.running ? 'Stop' : 'Start';
      e.stop.dataset.running = s.running;
      const done = s.series.filter((b) => b.t < v.elapsed_s - 2); // the last seconds are still arriving
      const last = done.slice(-5);
      const n = last.reduce((a, b) => a + b.requests, 0);
      const errs = last.reduce((a, b) => a + b.error_rate * b.requests, 0);
      const p50 = last.length ? Math.max(...last.map((b) => b.p50_ms)) : 0;
      const p99 = last.length ? Math.max(...last.map((b) => b.p99_ms)) : 0;
      e.stats.textContent = (s.running ? s.rate + '/s asked' : 'stopped') + ' · last 5 s: ' + (n / 5).toFixed(0) + '/s, errors ' +
        fmtPct(n ? errs / n : 0) + ', p50 ' + fmtMs(p50) + ', p99 ' + fmtMs(p99);
      e.stats.dataset.p99 = p99;
      drawChart(e.svg, s.series, v);
    }
  }
  function drawChart(svg, series, v) {
    const W = 600, H = 110, top = 12, bottom = H - 14;
    if (!series.length) { svg.replaceChildren(); return; }
    const t0 = series[0].t, t1 = series[series.length - 1].t + 1;
    const x = (t) => 30 + (t - t0) / Math.max(t1 - t0, 1) * (W - 70);
    const maxR = Math.max(1, ...series.map((b) => b.requests));
    const maxL = Math.max(1, ...series.map((b) => b.p99_ms));
    const yR = (r) => bottom - r / maxR * (bottom - top);
    const yL = (l) => bottom - l / maxL * (bottom - top);
    const parts = [];
    for (const w of v.fault_windows) {
      const from = Math.max(w.from_s, t0), to = w.to_s < 0 ? t1 : Math.min(w.to_s, t1);
      if (to <= from) continue;
      const r = el('rect', { x: x(from), y: top, width: Math.max(x(to) - x(from), 1), height: bottom - top, class: 'area-fault' });
      r.append(el('title', {}, w.label));
      parts.push(r);
    }
    parts.push(el('line', { x1: 30, y1: bottom, x2: W - 40, y2: bottom, class: 'axis' }));
    for (const b of series) if (b.error_rate > 0) parts.push(el('rect', { x: x(b.t), y: bottom - b.error_rate * (bottom - top), width: Math.max(x(b.t + 1) - x(b.t), 1), height: b.error_rate * (bottom - top), class: 'err' }));
    const path = (f, key) => series.map((b, i) => (i ? 'L' : 'M') + x(b.t + 0.5).toFixed(1) + ',' + f(b[key]).toFixed(1)).join('');
    parts.push(el('path', { d: path(yR, 'requests'), class: 'rps' }));
    parts.push(el('path', { d: path(yL, 'p50_ms'), class: 'p50' }));
    parts.push(el('path', { d: path(yL, 'p99_ms'), class: 'p99' }));
    parts.push(el('text', { x: 2, y: top + 4 }, maxR + '/s'));
    parts.push(el('text', { x: W - 38, y: top + 4 }, fmtMs(maxL)));
    parts.push(el('text', { x: 2, y: H - 2 }, '−' + fmtT(t1 - t0)));
    parts.push(el('text', { x: W - 38, y: H - 2 }, 'now'));
    parts.push(el('text', { x: 200, y: H - 2 }, 'blue: req/s · red: p99 · brown: p50 · bars: errors · shaded: faults'));
    svg.replaceChildren(...parts);
  }

  function renderTimeline(v) {
    const ol = $('timeline');
    const items = v.timeline.slice().reverse().map((e) => {
      const li = document.createElement('li');
      li.className = 'k-' + e.kind;
      const t = document.createElement('span');
      t.className = 't';
      t.textContent = 'T+' + fmtT(e.at_s);
      let text = e.kind;
      if (e.fault) text += ' ' + e.fault + (e.params ? ' ' + Object.entries(e.params).map(([k, x]) => k + '=' + x).join(' ') : '');
      if (e.target) text += ' on ' + e.target;
      if (e.fault_id) text += ' (#' + e.fault_id + ')';
      if (e.text) text += (e.kind === 'note' ? ': ' : ' — ') + e.text;
      if (e.who) text += ' · ' + e.who;
      li.append(t, document.createTextNode(text));
      return li;
    });
    ol.replaceChildren(...items);
  }

  function render(v) {
    $('clock').textContent = 'T+' + fmtT(v.elapsed_s);
    $('halted').hidden = !v.halted;
    $('haltedby').textContent = v.halted ? 'by ' + (v.halted_by || 'someone') : '';
    document.body.classList.toggle('is-halted', v.halted);
    const dm = $('deadman');
    if (v.deadman.timeout_s > 0 && v.deadman.armed) {
      const left = v.deadman.timeout_s - v.deadman.silent_s;
      dm.textContent = 'dead-man: console faults heal in ' + Math.max(0, left).toFixed(0) + ' s without heartbeat';
      dm.classList.toggle('close', left < 6);
    } else {
      dm.textContent = v.deadman.timeout_s > 0 ? 'dead-man ' + v.deadman.timeout_s + ' s' : 'dead-man off';
      dm.classList.remove('close');
    }
    slos = v.slos || [];
    $('slo-list').textContent = slos.length ? 'SLOs: ' + slos.map((s) => s.load + ' ' + s.thresholds.join(', ')).join('; ') : 'no SLO yet: the report judges nothing without one';
    renderMap(v);
    renderFaults(v);
    renderStreams(v);
    renderTimeline(v);
  }

  function connect() {
    const es = new EventSource('/api/events');
    es.onopen = () => { $('conn').textContent = 'live'; $('conn').className = 'conn live'; };
    es.onmessage = (m) => {
      try { render(JSON.parse(m.data)); } catch (err) { showError('bad update: ' + err.message); }
      document.body.dataset.seq = String((Number(document.body.dataset.seq) || 0) + 1);
    };
    es.onerror = () => { $('conn').textContent = 'reconnecting…'; $('conn').className = 'conn down'; };
  }
  loadCatalog().then(connect, (err) => showError('catalog: ' + err.message));
})();
