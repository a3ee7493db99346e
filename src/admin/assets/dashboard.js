// The admin dashboard: polls /admin/dashboard.json once a second (the server samples the metrics
// registry into a ring buffer, so a fresh page has minutes of history at once) and draws it with
// plain DOM and hand-written SVG charts. The Dtab tab asks /delegator.json and renders the tree.
// No framework, no bundler, no network beyond this admin server.

const REFRESH_MS = 1000;
const CODE_COLORS = {
  OK: '#16a34a', CANCELLED: '#94a3b8', UNKNOWN: '#a855f7', INVALID_ARGUMENT: '#f59e0b', DEADLINE_EXCEEDED: '#ea580c',
  NOT_FOUND: '#eab308', ALREADY_EXISTS: '#84cc16', PERMISSION_DENIED: '#be185d', RESOURCE_EXHAUSTED: '#c2410c',
  FAILED_PRECONDITION: '#ca8a04', ABORTED: '#b45309', OUT_OF_RANGE: '#a16207', UNIMPLEMENTED: '#7c3aed',
  INTERNAL: '#dc2626', UNAVAILABLE: '#ef4444', DATA_LOSS: '#7f1d1d', UNAUTHENTICATED: '#db2777',
};

const $ = (id) => document.getElementById(id);
const state = { data: null, lastOk: 0, dtabRouter: null, delegated: false, delegations: 0 };

// ---------- formatting ----------
function esc(v) {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}
function fmtRate(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (v === 0) return '0';
  if (v < 10) return v.toFixed(2);
  if (v < 1000) return v.toFixed(1);
  return (v / 1000).toFixed(1) + 'k';
}
function fmtMs(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (v < 1) return v.toFixed(2) + ' ms';
  if (v < 100) return v.toFixed(1) + ' ms';
  if (v < 10000) return Math.round(v) + ' ms';
  return (v / 1000).toFixed(1) + ' s';
}
function fmtPct(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const p = v * 100;
  return (p === 100 ? '100' : p >= 99.9 ? p.toFixed(2) : p.toFixed(1)) + '%';
}
function pctClass(v) {
  if (v === null || v === undefined) return '';
  return v >= 0.995 ? 'good' : v >= 0.95 ? 'warn' : 'bad';
}
function fmtBytes(v) {
  return v >= 1 << 30 ? (v / (1 << 30)).toFixed(2) + ' GiB' : (v / (1 << 20)).toFixed(1) + ' MiB';
}
function fmtDuration(sec) {
  const d = Math.floor(sec / 86400), h = Math.floor((sec % 86400) / 3600), m = Math.floor((sec % 3600) / 60), s = sec % 60;
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${s}s` : `${s}s`;
}
function fmtAgo(iso) {
  if (!iso) return 'never';
  const sec = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return `${new Date(iso).toLocaleString()} (${fmtDuration(sec)} ago)`;
}

// ---------- charts ----------
// A small time-series chart: one or more lines over the sampled seconds, y from 0 to a rounded max.
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
function chartSvg(width, t, lines, opts) {
  const h = 110, padL = 44, padR = 6, padT = 6, padB = 16;
  const w = Math.max(160, width);
  const n = t.length;
  let max = opts.max;
  if (max === undefined) {
    max = 0;
    for (const l of lines) for (const v of l.values) if (v !== null && v > max) max = v;
    max = niceMax(max);
  }
  const min = opts.min ?? 0;
  const tEnd = n ? t[n - 1] : Date.now();
  // Seconds shown: the history there is, at least a minute, at most the five the server keeps.
  const span = Math.min(300, Math.max(60, n ? Math.ceil((tEnd - t[0]) / 60000) * 60 : 60));
  const x = (ti) => padL + ((ti - (tEnd - span * 1000)) / (span * 1000)) * (w - padL - padR);
  const y = (v) => padT + (1 - (v - min) / (max - min || 1)) * (h - padT - padB);
  let out = `<svg viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="${esc(opts.title)}">`;
  for (const f of [0, 0.5, 1]) {
    const yy = y(min + (max - min) * f);
    out += `<line class="grid" x1="${padL}" x2="${w - padR}" y1="${yy}" y2="${yy}"/>`;
    out += `<text class="axis" x="${padL - 4}" y="${yy + 3}" text-anchor="end">${esc(opts.fmt(min + (max - min) * f))}</text>`;
  }
  out += `<text class="axis" x="${padL}" y="${h - 3}">-${span / 60}m</text><text class="axis" x="${w - padR}" y="${h - 3}" text-anchor="end">now</text>`;
  for (const l of lines) {
    let d = '';
    let pen = false;
    let first = null, last = null;
    for (let i = 0; i < n; i++) {
      const v = l.values[i];
      if (v === null || v === undefined || t[i] < tEnd - span * 1000) { pen = false; continue; }
      const px = x(t[i]).toFixed(1), py = y(Math.min(max, v)).toFixed(1);
      d += (pen ? 'L' : 'M') + px + ' ' + py;
      pen = true;
      if (first === null) first = px;
      last = px;
    }
    if (!d) continue;
    if (l.fill && first !== null) {
      out += `<path d="${d}L${last} ${y(min)}L${first} ${y(min)}Z" fill="${l.color}" fill-opacity="0.12" stroke="none"/>`;
    }
    out += `<path d="${d}" fill="none" stroke="${l.color}" stroke-width="1.6" stroke-linejoin="round"/>`;
  }
  return out + '</svg>';
}
function chartCard(key, title, now, width, t, lines, opts) {
  const legend = lines.length > 1 ? lines.map((l) => `<span><i style="background:${l.color}"></i>${esc(l.label)}</span>`).join(' ') : '';
  return `<div class="chart" data-chart="${esc(key)}"><div class="ctitle"><span>${esc(title)} <b>${now}</b></span><span class="legend">${legend}</span></div>${chartSvg(width, t, lines, { ...opts, title })}</div>`;
}

// ---------- dashboard ----------
function tile(cls, label, value, sub, valueClass = '') {
  return `<div class="tile ${cls}"><div class="label">${label}</div><div class="value ${valueClass}">${value}</div><div class="sub">${sub}</div></div>`;
}
function codeBar(byCode) {
  const entries = Object.entries(byCode).sort((a, b) => (a[0] === 'OK' ? -1 : b[0] === 'OK' ? 1 : b[1] - a[1]));
  const total = entries.reduce((s, [, v]) => s + v, 0);
  if (total <= 0) return `<div class="codes"><span class="muted">gRPC status</span><div class="codebar"></div><span class="muted">no finished streams in the last 5 s</span></div>`;
  const bar = entries.map(([c, v]) => `<span title="${esc(c)} ${fmtRate(v)}/s" style="width:${(v / total) * 100}%;background:${CODE_COLORS[c] ?? '#64748b'}"></span>`).join('');
  const legend = entries.map(([c, v]) => `<span data-code="${esc(c)}"><i style="background:${CODE_COLORS[c] ?? '#64748b'}"></i>${esc(c)} ${fmtRate(v)}/s (${fmtPct(v / total)})</span>`).join('');
  return `<div class="codes"><span class="muted">gRPC status</span><div class="codebar">${bar}</div></div><div class="legend codes">${legend}</div>`;
}
function endpointRows(endpoints) {
  if (!endpoints.length) return `<tr><td colspan="9" class="muted">no endpoints</td></tr>`;
  return endpoints
    .map((e) => `<tr data-endpoint="${esc(e.address)}">
      <td><code>${esc(e.address)}</code></td><td>${esc(e.nodeName ?? '–')}</td><td>${esc(e.zone ?? '–')}</td>
      <td><span class="badge ${esc(e.state)}">${esc(e.state)}</span></td>
      <td class="num">${e.inFlight}</td><td class="num">${e.requests}</td>
      <td class="num ${e.failures ? 'bad' : ''}">${e.failures}</td><td class="num">${fmtMs(e.latencyMs)}</td><td class="num">${e.weight}</td></tr>`)
    .join('');
}
function clientCard(c) {
  const cur = c.current;
  return `<div class="client" data-client="${esc(c.id)}">
    <div class="client-head"><code>${esc(c.id)}</code><span class="badge lb" title="load balancer">${esc(c.loadBalancer)}</span>
      <span class="badge ${esc(c.addr)}" title="${esc(c.addrError ?? 'address set')}">${esc(c.addr)}</span>
      <span class="stats"><span><b class="c-rps">${fmtRate(cur.rps)}</b> req/s</span><span class="${pctClass(cur.successRate)}"><b>${fmtPct(cur.successRate)}</b> success</span>
      <span>p99 <b>${fmtMs(cur.p99)}</b></span><span><b>${c.endpoints.reduce((n, e) => n + e.inFlight, 0)}</b> in flight</span><span><b>${c.endpoints.length}</b> endpoint${c.endpoints.length === 1 ? '' : 's'}</span></span></div>
    <table><thead><tr><th>address</th><th>node</th><th>zone</th><th>state</th><th class="num">in flight</th><th class="num">requests</th><th class="num" title="failures the endpoint is blamed for: transport errors and UNAVAILABLE (an application's own error status is not the endpoint's fault)">failures</th><th class="num" title="smoothed by the balancer: peak EWMA, decaying over the decay time">latency (ewma)</th><th class="num">weight</th></tr></thead>
    <tbody>${endpointRows(c.endpoints)}</tbody></table></div>`;
}
function routerCard(r, width) {
  const cur = r.current;
  const s = r.series;
  const cw = Math.floor((width - 36 - 36) / 4) - 22;
  const services = r.services.length
    ? `<table class="services"><thead><tr><th>logical service</th><th>bound clients</th><th class="num">req/s</th><th class="num">success</th><th class="num">p50</th><th class="num">p99</th></tr></thead><tbody>${r.services
        .map((sv) => `<tr data-service="${esc(sv.name)}"><td><code>${esc(sv.name)}</code></td><td>${sv.clients.map((c) => `<code>${esc(c)}</code>`).join('<br>') || '<span class="muted">unbound</span>'}</td>
          <td class="num s-rps">${fmtRate(sv.current.rps)}</td><td class="num ${pctClass(sv.current.successRate)}">${fmtPct(sv.current.successRate)}</td>
          <td class="num">${fmtMs(sv.current.p50)}</td><td class="num">${fmtMs(sv.current.p99)}</td></tr>`)
        .join('')}</tbody></table>`
    : `<p class="muted">No logical names routed yet.</p>`;
  const clients = r.clients.length ? r.clients.map(clientCard).join('') : `<p class="muted">No bound clients yet.</p>`;
  return `<div class="card router" data-router="${esc(r.label)}">
    <div class="card-head"><h2 class="router-title">router <code>${esc(r.label)}</code></h2>
      <span class="servers">listening on ${r.servers.map((sv) => `<code>${esc(sv.ip)}:${sv.port}</code>`).join(', ') || '–'}</span></div>
    <div class="tiles">
      ${tile('t-rps', 'requests / s', fmtRate(cur.rps), 'last 5 s')}
      ${tile('t-success', 'success rate', fmtPct(cur.successRate), 'grpc-status OK', pctClass(cur.successRate))}
      ${tile('t-p50', 'p50 latency', fmtMs(cur.p50), '')}
      ${tile('t-p99', 'p95 / p99', fmtMs(cur.p99), `p95 ${fmtMs(cur.p95)}`)}
      ${tile('t-inflight', 'streams in flight', String(cur.inFlight), '')}
      ${tile('t-retries', 'retries / s', fmtRate(cur.retriesPerSec), '')}
    </div>
    ${codeBar(cur.byCode)}
    <div class="charts">
      ${chartCard('rps', 'requests/s', fmtRate(cur.rps), cw, s.t, [
        { label: 'all', values: s.rps, color: '#2563eb', fill: true },
        { label: 'failed', values: s.failuresPerSec, color: '#dc2626' },
      ], { fmt: fmtRate })}
      ${chartCard('success', 'success rate', fmtPct(cur.successRate), cw, s.t, [
        { label: 'success', values: s.successRate, color: '#16a34a', fill: true },
      ], { min: 0, max: 1, fmt: (v) => Math.round(v * 100) + '%' })}
      ${chartCard('latency', 'latency', fmtMs(cur.p99), cw, s.t, [
        { label: 'p50', values: s.p50, color: '#0d9488' },
        { label: 'p95', values: s.p95, color: '#d97706' },
        { label: 'p99', values: s.p99, color: '#dc2626' },
      ], { fmt: (v) => (v >= 1000 ? (v / 1000).toFixed(1) + 's' : v >= 10 ? Math.round(v) + 'ms' : v.toFixed(1) + 'ms') })}
      ${chartCard('inflight', 'in flight / retries', String(cur.inFlight), cw, s.t, [
        { label: 'in flight', values: s.inFlight, color: '#7c3aed', fill: true },
        { label: 'retries/s', values: s.retriesPerSec, color: '#ea580c' },
      ], { fmt: fmtRate })}
    </div>
    <h3>Logical services</h3>${services}
    <h3>Bound clients and endpoints</h3>${clients}
  </div>`;
}
function renderHeader(d) {
  const ready = d.readiness.ready;
  const reasons = d.readiness.reasons.join('; ');
  const where = d.host.podName ?? d.host.hostname;
  document.title = `${where} · kube-grpc-router admin`;
  $('proc').innerHTML = `<span title="pod / host${d.host.nodeName ? ' on node ' + esc(d.host.nodeName) : ''}"><b>${esc(where)}</b>${d.host.nodeName ? ` on <b>${esc(d.host.nodeName)}</b>` : ''}</span>
    <span class="pill ${ready ? 'ok' : 'bad'}" title="${esc(reasons)}">${ready ? 'ready' : 'not ready'}</span>
    <span>v<b>${esc(d.version)}</b></span><span>up <b>${fmtDuration(d.uptimeSec)}</b></span>
    <span>rss <b>${fmtBytes(d.process.rssBytes)}</b></span><span>heap <b>${fmtBytes(d.process.heapUsedBytes)}</b></span>
    <span class="pulse" id="pulse" title="last update"></span>`;
  const banner = $('banner');
  if (!ready) {
    banner.textContent = `Not ready: ${reasons || 'no reason given'}`;
    banner.classList.remove('hidden');
  } else banner.classList.add('hidden');
}
function renderDashboard(d) {
  const width = $('routers').clientWidth || 1200;
  const namers = d.namers.length
    ? `<div class="card namers"><div class="card-head"><h2>Namers</h2><span class="muted">service discovery behind the dtab</span></div>
        <table><thead><tr><th>prefix</th><th>kind</th><th>watch state</th></tr></thead><tbody>${d.namers
          .map((n) => `<tr><td><code>${esc(n.prefix)}</code></td><td>${esc(n.kind)}</td><td>${n.statePath ? `<a href="${esc(n.statePath)}"><code>${esc(n.statePath)}</code></a>` : '<span class="muted">–</span>'}</td></tr>`)
          .join('')}</tbody></table></div>`
    : '';
  $('routers').innerHTML = (d.routers.length ? d.routers.map((r) => routerCard(r, width)).join('') : `<p class="muted">No routers configured.</p>`) + namers;
}

// ---------- dtab tab ----------
function dentryLines(text) {
  return String(text ?? '')
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean);
}
function dtabBlock(text, emptyNote) {
  const lines = dentryLines(text);
  if (!lines.length) return `<pre class="dentries"><span class="comment"># ${esc(emptyNote)}</span></pre>`;
  return `<pre class="dentries">${lines
    .map((l) => {
      const i = l.indexOf('=>');
      return i < 0 ? esc(l) : `<span class="pfx">${esc(l.slice(0, i).trim())}</span> <span class="arrow">=&gt;</span> <span class="dst">${esc(l.slice(i + 2).trim())}</span>;`;
    })
    .join('\n')}</pre>`;
}
function renderDtabSource(d) {
  const sel = $('dtab-router');
  const labels = d.routers.map((r) => r.label);
  if (sel.dataset.labels !== labels.join(',')) {
    sel.innerHTML = labels.map((l) => `<option value="${esc(l)}">${esc(l)}</option>`).join('');
    sel.dataset.labels = labels.join(',');
    if (state.dtabRouter && labels.includes(state.dtabRouter)) sel.value = state.dtabRouter;
  }
  state.dtabRouter = sel.value || labels[0] || null;
  const r = d.routers.find((x) => x.label === state.dtabRouter);
  if (!r) {
    $('dtab-source').innerHTML = `<p class="muted">No routers.</p>`;
    return;
  }
  const f = r.dtab.file;
  const err = f && f.lastError;
  $('dtab-source').innerHTML = `<dl class="source">
      <dt>source</dt><dd>${f ? `file <code>${esc(f.path)}</code> (io.l5d.fs interpreter) prepended to the router's <code>dtab</code>` : `the router's <code>dtab</code> in the config`}</dd>
      ${f ? `<dt>last reload</dt><dd data-field="last-reload">${esc(fmtAgo(f.lastReload))}</dd>` : ''}
      ${f ? `<dt>last error</dt><dd data-field="last-error">${err ? `<span class="err">line ${err.line}, column ${err.column}: ${esc(err.message)}</span> <span class="muted">(${esc(fmtAgo(err.at))}; the previous dtab stays in effect)</span>` : '<span class="muted">none</span>'}</dd>` : ''}
    </dl>
    <h3>Effective dtab (what binding uses now)</h3>${dtabBlock(r.dtab.effective, 'empty dtab')}
    ${f ? `<h3>Router base dtab</h3>${dtabBlock(r.dtab.base, 'empty')}` : ''}`;
  if (!state.delegated && !location.hash.startsWith('#dashboard')) {
    state.delegated = true;
    delegateNow();
  }
}

// Routing's rule over a delegation tree: an Alt takes its first branch that is not Neg; a Union
// takes every branch with weight > 0 that binds (Neg and Fail branches drop out); a leaf whose
// address set is Neg counts as Neg. `outcome` is 'ok' | 'neg' | 'fail'.
function outcome(node) {
  switch (node.type) {
    case 'leaf': {
      const t = node.bound && node.bound.addr && node.bound.addr.type;
      return (node.__outcome = t === 'neg' ? 'neg' : t === 'failed' ? 'fail' : 'ok');
    }
    case 'delegate': return (node.__outcome = outcome(node.delegate));
    case 'transformation': return (node.__outcome = outcome(node.tree));
    case 'alt': {
      let res = 'neg';
      for (const b of node.alt) {
        const o = outcome(b);
        if (res === 'neg' && o !== 'neg') res = o;
      }
      return (node.__outcome = res);
    }
    case 'union': {
      let any = false;
      for (const w of node.union) if (outcome(w.tree) === 'ok' && w.weight > 0) any = true;
      return (node.__outcome = any ? 'ok' : 'neg');
    }
    case 'neg': return (node.__outcome = 'neg');
    default: return (node.__outcome = 'fail'); // fail, exception, empty
  }
}
function choose(node, chosen, leaves) {
  node.__chosen = chosen;
  switch (node.type) {
    case 'delegate': choose(node.delegate, chosen, leaves); break;
    case 'transformation': choose(node.tree, chosen, leaves); break;
    case 'alt': {
      let taken = false;
      for (const b of node.alt) {
        const take = chosen && !taken && b.__outcome !== 'neg';
        if (take) taken = true;
        choose(b, take, leaves);
      }
      break;
    }
    case 'union': {
      const total = node.union.reduce((s, w) => s + (w.tree.__outcome === 'ok' && w.weight > 0 ? w.weight : 0), 0);
      for (const w of node.union) {
        const take = chosen && w.tree.__outcome === 'ok' && w.weight > 0;
        w.__share = take && total > 0 ? w.weight / total : 0;
        choose(w.tree, take, leaves);
      }
      break;
    }
    default:
      if (chosen) leaves.push(node);
  }
}
const KIND_LABEL = {
  delegate: 'Possible resolution path', alt: 'Several possible resolution paths (first that binds wins)',
  union: 'Several simultaneous resolution paths (weighted)', leaf: 'Namer match', neg: 'No further branch matches',
  fail: 'Explicit failure', empty: 'Empty', exception: 'Error', transformation: 'Transformation',
};
function addrText(bound) {
  const a = bound && bound.addr;
  if (!a) return '';
  if (a.type === 'bound') return a.addrs.length ? a.addrs.map((x) => `${x.ip}:${x.port}`).join(', ') : 'no endpoints';
  if (a.type === 'failed') return 'failed: ' + a.cause;
  return a.type;
}
function renderNode(node, weight) {
  const cls = `dnode type-${esc(node.type)} outcome-${node.__outcome} ${node.__chosen ? 'chosen' : 'unchosen'}`;
  const dentry = node.dentry ? `<span class="dentry">via <b>${esc(node.dentry.prefix)}</b> =&gt; <b>${esc(node.dentry.dst)}</b></span>` : '';
  const w = weight ? `<span class="dweight">weight ${esc(weight.weight)}${weight.__share ? ` · ${Math.round(weight.__share * 100)}% of traffic` : ''}</span>` : '';
  let extra = '';
  let children = '';
  switch (node.type) {
    case 'delegate': children = renderNode(node.delegate); break;
    case 'transformation': extra = `<span class="dentry">${esc(node.name)}</span>`; children = renderNode(node.tree); break;
    case 'alt': children = node.alt.map((b) => renderNode(b)).join(''); break;
    case 'union': children = node.union.map((u) => renderNode(u.tree, u)).join(''); break;
    case 'leaf':
      extra = `<span class="badge ${esc(node.bound?.addr?.type ?? '')}">${esc(node.bound?.addr?.type ?? '')}</span><span class="daddrs">${esc(addrText(node.bound))}</span>${node.bound && node.bound.path && node.bound.path !== '/' ? `<span class="dentry">residual <b>${esc(node.bound.path)}</b></span>` : ''}`;
      break;
    case 'exception': extra = `<span class="dmsg">${esc(node.message)}</span>`; break;
  }
  const shownPath = node.type === 'leaf' && node.bound && node.bound.id ? node.bound.id : node.path;
  return `<div class="${cls}" data-type="${esc(node.type)}" data-path="${esc(shownPath)}"><div class="dhead">${w}<span class="dkind">${esc(KIND_LABEL[node.type] ?? node.type)}</span><code class="dpath">${esc(shownPath)}</code>${dentry}${extra}</div>${children}</div>`;
}
function renderDelegation(tree) {
  outcome(tree);
  const leaves = [];
  choose(tree, true, leaves);
  const ok = leaves.filter((l) => l.type === 'leaf' && l.__outcome === 'ok');
  let summary;
  if (tree.__outcome === 'ok') {
    summary = `Routing sends this name to ${ok.map((l) => `<span class="route">${esc(l.bound.id)}</span> <span class="daddrs">(${esc(addrText(l.bound))})</span>`).join(' and ')}.`;
  } else if (tree.__outcome === 'neg') {
    summary = `<span class="err">No route: nothing in the dtab binds this name (requests fail with UNIMPLEMENTED / "no route").</span>`;
  } else {
    const why = leaves.map((l) => (l.type === 'exception' ? l.message : l.type === 'leaf' ? addrText(l.bound) : l.type)).join('; ');
    summary = `<span class="err">Routing fails here: ${esc(why)}.</span>`;
  }
  $('pg-summary').innerHTML = summary;
  $('pg-tree').innerHTML = renderNode(tree);
}
async function delegateNow() {
  const d = state.data;
  const r = d && d.routers.find((x) => x.label === state.dtabRouter);
  const path = $('pg-path').value.trim();
  const extra = $('pg-extra').value.trim();
  const base = r ? r.dtab.base : '';
  // l5d-dtab entries are appended: later dentries take precedence.
  const dtab = [base, extra].filter((s) => s.trim()).join(';\n');
  $('pg-status').textContent = 'delegating…';
  try {
    const res = await fetch('/delegator.json', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ namespace: state.dtabRouter ?? undefined, path, dtab }),
    });
    const text = await res.text();
    if (!res.ok) {
      $('pg-summary').innerHTML = `<div class="errbox">${res.status}: ${esc(text.trim())}</div>`;
      $('pg-tree').innerHTML = '';
    } else renderDelegation(JSON.parse(text));
    $('pg-status').textContent = `as of ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    $('pg-status').textContent = `failed: ${err}`;
  } finally {
    // Answers counted on the page, so a watcher (or a test) knows a new tree is drawn.
    $('pg-tree').dataset.answers = String(++state.delegations);
  }
}

// ---------- loop ----------
function showTab() {
  const dtab = location.hash === '#dtab';
  $('view-dtab').classList.toggle('hidden', !dtab);
  $('view-dashboard').classList.toggle('hidden', dtab);
  $('tab-dtab').classList.toggle('active', dtab);
  $('tab-dashboard').classList.toggle('active', !dtab);
  if (dtab && state.data && !state.delegated) renderDtabSource(state.data);
}
async function refresh() {
  try {
    const res = await fetch('/admin/dashboard.json', { cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const d = await res.json();
    state.data = d;
    state.lastOk = Date.now();
    renderHeader(d);
    if (location.hash === '#dtab') renderDtabSource(d);
    else renderDashboard(d);
    document.body.dataset.updated = String(state.lastOk);
  } catch (err) {
    const pulse = $('pulse');
    if (pulse) pulse.classList.add('stale');
    const banner = $('banner');
    banner.textContent = `Lost contact with the admin server (${err.message ?? err}); retrying every second.`;
    banner.classList.remove('hidden');
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

window.addEventListener('hashchange', () => {
  showTab();
  if (state.data) (location.hash === '#dtab' ? renderDtabSource : renderDashboard)(state.data);
});
$('playground').addEventListener('submit', (e) => {
  e.preventDefault();
  delegateNow();
});
$('dtab-router').addEventListener('change', (e) => {
  state.dtabRouter = e.target.value;
  if (state.data) renderDtabSource(state.data);
  delegateNow();
});
showTab();
refresh();
