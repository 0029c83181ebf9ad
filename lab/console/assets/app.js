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

  // ---- Rendering. An update patches the page in place: each element is made once and an
  // attribute or a text is written only when it differs, so Chromium restyles and repaints what
  // changed, not the whole page every update (rebuilding it was most of the page's cost:
  // BENCHMARKS.md, the console's cost).
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
  function setAttrs(e, attrs) {
    for (const k in attrs) {
      const s = String(attrs[k]);
      if (e.getAttribute(k) !== s) e.setAttribute(k, s);
    }
  }
  function setText(e, text) {
    if (e.textContent !== text) e.textContent = text;
  }
  // keyed keeps one cached element per key under parent, in the order of keys: make(key) builds
  // a missing one ({root, ...}); an element whose key is gone is removed; none is rebuilt.
  function keyed(parent, cache, keys, make) {
    const want = new Set(keys);
    for (const [k, c] of cache) if (!want.has(k)) { c.root.remove(); cache.delete(k); }
    let prev = null;
    for (const k of keys) {
      if (!cache.has(k)) cache.set(k, make(k));
      const node = cache.get(k).root;
      const next = prev ? prev.nextSibling : parent.firstChild;
      if (next !== node) parent.insertBefore(node, next);
      prev = node;
    }
  }

  const POS = {
    client: [5, 190], gateway: [175, 190], redirect: [340, 60], link: [340, 200], analytics: [340, 350],
    redis: [570, 15], 'link-db': [570, 145], billing: [570, 255], 'analytics-db': [570, 385], nats: [770, 200],
  };
  const W = 112, H = 34;
  function pos(name, i) { return POS[name] || [770, 20 + 40 * (i % 9)]; }
  const mapEdges = new Map(), mapNodes = new Map();
  let mapLayers = null; // edges under nodes
  function renderMap(v) {
    if (!mapLayers) {
      mapLayers = { edges: el('g', {}), nodes: el('g', {}) };
      $('map').replaceChildren(mapLayers.edges, mapLayers.nodes);
    }
    const at = new Map();
    v.nodes.forEach((n, i) => at.set(n.name, pos(n.name, i)));
    const edges = v.edges.filter((e) => at.has(e.from) && at.has(e.to));
    keyed(mapLayers.edges, mapEdges, edges.map((e) => e.name), () => {
      const root = el('g', {}), line = el('line', {}), title = el('title', {});
      const label = el('text', { class: 'elabel', 'text-anchor': 'middle' });
      line.append(title);
      root.append(line, label);
      return { root, line, title, label, pieces: '' };
    });
    for (const e of edges) {
      const c = mapEdges.get(e.name), a = at.get(e.from), b = at.get(e.to);
      const x1 = a[0] + W / 2, y1 = a[1] + H / 2, x2 = b[0] + W / 2, y2 = b[1] + H / 2;
      setAttrs(c.line, { x1: x1, y1: y1, x2: x2, y2: y2, class: 'edge ' + e.health + (e.faulted ? ' faulted' : ''),
        'data-edge': e.name, 'data-last-error': e.last_error_s || '' });
      setText(c.title, e.name + ': ' + e.calls + ' calls in ' + v.window_s + ' s, errors ' + fmtPct(e.error_rate) +
        (e.last_error_s ? ' (last ' + Math.max(0, v.elapsed_s - e.last_error_s).toFixed(1) + ' s ago)' : '') +
        ', p50 ' + fmtMs(e.p50_ms) + ', p99 ' + fmtMs(e.p99_ms) + (e.breaker ? ', breaker ' + e.breaker : '') +
        (e.bulkhead_total ? ', bulkhead rejections ' + e.bulkhead_rejected + ' now / ' + e.bulkhead_total + ' total' : ''));
      setAttrs(c.label, { x: x1 + (x2 - x1) * 0.5, y: y1 + (y2 - y1) * 0.5 - 4, 'data-edge-label': e.name });
      const pieces = []; // [class, text]: the label's tspans, rebuilt only when one of them changes
      if (e.calls > 0) {
        pieces.push(['p99', 'p99 ' + fmtMs(e.p99_ms)]);
        if (e.error_rate > 0) pieces.push(['', ' · ' + fmtPct(e.error_rate)]);
      }
      if (e.breaker && e.breaker !== 'closed') pieces.push(['breaker-' + e.breaker, ' ⚡' + e.breaker]);
      if (e.bulkhead_rejected > 0) pieces.push(['breaker-open', ' bulkhead ' + e.bulkhead_rejected]);
      const sig = JSON.stringify(pieces);
      if (sig !== c.pieces) {
        c.pieces = sig;
        c.label.replaceChildren(...pieces.map(([cls, text]) => el('tspan', cls && cls !== 'p99' ? { class: cls } : {}, text)));
      }
      if (e.calls > 0) setAttrs(c.label.firstChild, { 'data-p99': e.p99_ms });
    }
    keyed(mapLayers.nodes, mapNodes, v.nodes.map((n) => n.name), (name) => {
      const root = el('g', { 'data-node': name }), title = el('title', {});
      const sub = el('text', { x: W / 2, y: 28, 'text-anchor': 'middle', 'font-size': '10' });
      root.append(el('rect', { width: W, height: H }), el('text', { x: W / 2, y: 14, 'text-anchor': 'middle', 'font-weight': 'bold' }, name), sub, title);
      return { root, sub, title };
    });
    for (const n of v.nodes) {
      const c = mapNodes.get(n.name), p = at.get(n.name);
      setAttrs(c.root, { class: 'node ' + n.health + (n.faulted ? ' faulted' : ''), transform: 'translate(' + p[0] + ',' + p[1] + ')' });
      let sub = n.state && n.state !== 'ready' ? n.state : '';
      if (n.calls > 0) sub = (sub ? sub + ' · ' : '') + fmtPct(n.error_rate) + ' · p99 ' + fmtMs(n.p99_ms);
      setText(c.sub, sub);
      setText(c.title, n.name + (n.state ? ' (' + n.state + ')' : '') + ': ' + n.calls + ' calls in, errors ' + fmtPct(n.error_rate) + ', p99 ' + fmtMs(n.p99_ms));
    }
    setText($('mapnote'), 'learned from ' + v.spans.toLocaleString() + ' spans; figures over the last ' + v.window_s + ' s');
  }

  const faultRows = new Map();
  let noneRow = null;
  function renderFaults(v) {
    const body = $('faults').tBodies[0];
    if (!noneRow) {
      noneRow = document.createElement('tr');
      const td = document.createElement('td');
      td.colSpan = 7;
      td.textContent = 'none';
      noneRow.append(td);
    }
    if (v.faults.length) noneRow.remove();
    keyed(body, faultRows, v.faults.map((f) => String(f.id)), (id) => {
      const tr = document.createElement('tr');
      const cells = [];
      for (let i = 0; i < 6; i++) {
        const td = document.createElement('td');
        if (i === 2) td.className = 'target';
        cells.push(td);
      }
      const td = document.createElement('td');
      const b = document.createElement('button');
      b.textContent = 'Heal';
      b.className = 'small';
      b.addEventListener('click', () => post('/api/faults/' + id + '/heal'));
      td.append(b);
      tr.append(...cells, td);
      return { root: tr, cells };
    });
    for (const f of v.faults) {
      const c = faultRows.get(String(f.id));
      const params = f.params ? Object.entries(f.params).map(([k, x]) => k + '=' + x).join(' ') : '';
      [('#' + f.id), f.fault + (params ? ' ' + params : ''), f.target, f.who || f.source, 'T+' + fmtT(f.at_s),
        f.left_s < 0 ? 'until healed' : fmtT(f.left_s)].forEach((text, i) => setText(c.cells[i], text));
      setAttrs(c.root, { 'data-fault': f.fault, 'data-target': f.target });
    }
    if (!v.faults.length && noneRow.parentNode !== body) body.append(noneRow);
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
    streamEls[s.name] = { box, stats, stop, svg, rate, chart: null };
    return streamEls[s.name];
  }
  function renderStreams(v) {
    for (const s of v.streams || []) {
      const e = streamBox(s);
      setText(e.stop, s.running ? 'Stop' : 'Start');
      setAttrs(e.stop, { 'data-running': s.running });
      const done = s.series.filter((b) => b.t < v.elapsed_s - 2); // the last seconds are still arriving
      const last = done.slice(-5);
      const n = last.reduce((a, b) => a + b.requests, 0);
      const errs = last.reduce((a, b) => a + b.error_rate * b.requests, 0);
      const p50 = last.length ? Math.max(...last.map((b) => b.p50_ms)) : 0;
      const p99 = last.length ? Math.max(...last.map((b) => b.p99_ms)) : 0;
      setText(e.stats, (s.running ? s.rate + '/s asked' : 'stopped') + ' · last 5 s: ' + (n / 5).toFixed(0) + '/s, errors ' +
        fmtPct(n ? errs / n : 0) + ', p50 ' + fmtMs(p50) + ', p99 ' + fmtMs(p99));
      setAttrs(e.stats, { 'data-p99': p99 });
      drawChart(e, s.series, v);
    }
  }
  const CW = 600, CH = 110, CTOP = 12, CBOTTOM = CH - 14;
  // drawChart moves the chart's lines and labels; only the fault areas and error bars, whose
  // number changes, are rebuilt, and only when they differ.
  function drawChart(e, series, v) {
    if (!series.length) { e.svg.replaceChildren(); e.chart = null; return; }
    if (!e.chart) {
      const c = e.chart = {
        faults: el('g', {}), errs: el('g', {}), rps: el('path', { class: 'rps' }), p50: el('path', { class: 'p50' }),
        p99: el('path', { class: 'p99' }), maxR: el('text', { x: 2, y: CTOP + 4 }), maxL: el('text', { x: CW - 38, y: CTOP + 4 }),
        span: el('text', { x: 2, y: CH - 2 }), faultsSig: '', errsSig: '',
      };
      e.svg.replaceChildren(c.faults, el('line', { x1: 30, y1: CBOTTOM, x2: CW - 40, y2: CBOTTOM, class: 'axis' }), c.errs, c.rps, c.p50, c.p99,
        c.maxR, c.maxL, c.span, el('text', { x: CW - 38, y: CH - 2 }, 'now'),
        el('text', { x: 200, y: CH - 2 }, 'blue: req/s · red: p99 · brown: p50 · bars: errors · shaded: faults'));
    }
    const c = e.chart;
    const t0 = series[0].t, t1 = series[series.length - 1].t + 1;
    const x = (t) => 30 + (t - t0) / Math.max(t1 - t0, 1) * (CW - 70);
    const maxR = Math.max(1, ...series.map((b) => b.requests));
    const maxL = Math.max(1, ...series.map((b) => b.p99_ms));
    const yR = (r) => CBOTTOM - r / maxR * (CBOTTOM - CTOP);
    const yL = (l) => CBOTTOM - l / maxL * (CBOTTOM - CTOP);
    const areas = [];
    for (const w of v.fault_windows) {
      const from = Math.max(w.from_s, t0), to = w.to_s < 0 ? t1 : Math.min(w.to_s, t1);
      if (to > from) areas.push([x(from).toFixed(1), Math.max(x(to) - x(from), 1).toFixed(1), w.label]);
    }
    const sigA = JSON.stringify(areas);
    if (sigA !== c.faultsSig) {
      c.faultsSig = sigA;
      c.faults.replaceChildren(...areas.map(([ax, aw, label]) => {
        const r = el('rect', { x: ax, y: CTOP, width: aw, height: CBOTTOM - CTOP, class: 'area-fault' });
        r.append(el('title', {}, label));
        return r;
      }));
    }
    const bars = series.filter((b) => b.error_rate > 0).map((b) => [x(b.t).toFixed(1), CBOTTOM - b.error_rate * (CBOTTOM - CTOP),
      Math.max(x(b.t + 1) - x(b.t), 1).toFixed(1), b.error_rate * (CBOTTOM - CTOP)]);
    const sigE = JSON.stringify(bars);
    if (sigE !== c.errsSig) {
      c.errsSig = sigE;
      c.errs.replaceChildren(...bars.map(([bx, by, bw, bh]) => el('rect', { x: bx, y: by, width: bw, height: bh, class: 'err' })));
    }
    const path = (f, key) => series.map((b, i) => (i ? 'L' : 'M') + x(b.t + 0.5).toFixed(1) + ',' + f(b[key]).toFixed(1)).join('');
    setAttrs(c.rps, { d: path(yR, 'requests') });
    setAttrs(c.p50, { d: path(yL, 'p50_ms') });
    setAttrs(c.p99, { d: path(yL, 'p99_ms') });
    setText(c.maxR, maxR + '/s');
    setText(c.maxL, fmtMs(maxL));
    setText(c.span, '−' + fmtT(t1 - t0));
  }

  let timelineSig = '';
  function renderTimeline(v) {
    const sig = JSON.stringify(v.timeline);
    if (sig === timelineSig) return; // entries are only added: unchanged most updates
    timelineSig = sig;
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
    $('timeline').replaceChildren(...items);
  }

  function render(v) {
    setText($('clock'), 'T+' + fmtT(v.elapsed_s));
    if ($('halted').hidden === v.halted) $('halted').hidden = !v.halted;
    setText($('haltedby'), v.halted ? 'by ' + (v.halted_by || 'someone') : '');
    if (document.body.classList.contains('is-halted') !== v.halted) document.body.classList.toggle('is-halted', v.halted);
    const dm = $('deadman');
    if (v.deadman.timeout_s > 0 && v.deadman.armed) {
      const left = v.deadman.timeout_s - v.deadman.silent_s;
      setText(dm, 'dead-man: console faults heal in ' + Math.max(0, left).toFixed(0) + ' s without heartbeat');
      setAttrs(dm, { class: 'deadman' + (left < 6 ? ' close' : '') });
    } else {
      setText(dm, v.deadman.timeout_s > 0 ? 'dead-man ' + v.deadman.timeout_s + ' s' : 'dead-man off');
      setAttrs(dm, { class: 'deadman' });
    }
    slos = v.slos || [];
    setText($('slo-list'), slos.length ? 'SLOs: ' + slos.map((s) => s.load + ' ' + s.thresholds.join(', ')).join('; ') : 'no SLO yet: the report judges nothing without one');
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
