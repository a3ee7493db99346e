// The admin dashboard: polls /admin/dashboard.json once a second (the server samples the metrics
// registry into a ring buffer, so a fresh page has minutes of history at once) and draws it with
// plain DOM and hand-written SVG charts. The Dtab tab asks /delegator.json and renders the tree.
// Pages a mode adds (dashboard.json `pages`) get a tab each: their JSON drawn by their own script.
// No framework, no bundler, no network beyond this admin server.

import { esc, fmtAgo, fmtBytes, fmtDuration, fmtMs, fmtPct, fmtRate, pctClass } from './format.js';
import { chartCard } from './chart.js';
import { explainDelegation } from './delegation.js';

const REFRESH_MS = 1000;
const CODE_COLORS = {
  OK: '#16a34a', CANCELLED: '#94a3b8', UNKNOWN: '#a855f7', INVALID_ARGUMENT: '#f59e0b', DEADLINE_EXCEEDED: '#ea580c',
  NOT_FOUND: '#eab308', ALREADY_EXISTS: '#84cc16', PERMISSION_DENIED: '#be185d', RESOURCE_EXHAUSTED: '#c2410c',
  FAILED_PRECONDITION: '#ca8a04', ABORTED: '#b45309', OUT_OF_RANGE: '#a16207', UNIMPLEMENTED: '#7c3aed',
  INTERNAL: '#dc2626', UNAVAILABLE: '#ef4444', DATA_LOSS: '#7f1d1d', UNAUTHENTICATED: '#db2777',
};

const $ = (id) => document.getElementById(id);
const state = { data: null, lastOk: 0, dtabRouter: null, delegated: false, delegations: 0 };

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
/** The router's certificates, days left in amber under 14 days, red once expired. */
function certLine(certs) {
  if (!certs || !certs.length) return '';
  const one = (c) => `<span class="cert ${c.daysLeft < 0 ? 'bad' : c.daysLeft < 14 ? 'warn' : ''}" title="${esc(c.subject)} in ${esc(c.file)}, until ${esc(c.notAfter)}"><code>${esc(c.use)}</code> ${c.daysLeft < 0 ? 'expired' : `${c.daysLeft} day${c.daysLeft === 1 ? '' : 's'} left`}</span>`;
  return `<div class="certs muted">TLS certificates: ${certs.map(one).join(' · ')}</div>`;
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
    ${certLine(r.certificates)}
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
  // A process without routers (the control plane) has no traffic to draw: its pages say what it does.
  const routers = d.routers.length ? d.routers.map((r) => routerCard(r, width)).join('') : d.pages.length ? '' : `<p class="muted">No routers configured.</p>`;
  $('routers').innerHTML = routers + namers;
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

async function delegateNow() {
  const d = state.data;
  const r = d && d.routers.find((x) => x.label === state.dtabRouter);
  const path = $('pg-path').value.trim();
  const extra = $('pg-extra').value.trim();
  const dtab = r ? r.dtab.base : '';
  $('pg-status').textContent = 'delegating…';
  try {
    const res = await fetch('/delegator.json', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      // The extra dentries go as `local`: the server appends them as an l5d-dtab would (later
      // dentries win), joining parsed dtabs rather than text.
      body: JSON.stringify({ namespace: state.dtabRouter ?? undefined, path, dtab, local: extra }),
    });
    const text = await res.text();
    if (!res.ok) {
      $('pg-summary').innerHTML = `<div class="errbox">${res.status}: ${esc(text.trim())}</div>`;
      $('pg-tree').innerHTML = '';
    } else {
      const view = explainDelegation(JSON.parse(text));
      $('pg-summary').innerHTML = view.summary;
      $('pg-tree').innerHTML = view.tree;
    }
    $('pg-status').textContent = `as of ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    $('pg-status').textContent = `failed: ${err}`;
  } finally {
    // Answers counted on the page, so a watcher (or a test) knows a new tree is drawn.
    $('pg-tree').dataset.answers = String(++state.delegations);
  }
}

// ---------- pages a mode adds ----------
/** Add a tab and a view per page once, and hide the Dtab tab where there is no router. */
function addPages(d) {
  $('tab-dtab').classList.toggle('hidden', !d.routers.length);
  for (const p of d.pages) {
    if ($(`tab-${p.id}`)) continue;
    $('tab-dtab').insertAdjacentHTML('beforebegin', `<a href="#${esc(p.id)}" id="tab-${esc(p.id)}" role="tab" class="tab">${esc(p.title)}</a>`);
    $('view-dtab').insertAdjacentHTML('beforebegin', `<section id="view-${esc(p.id)}" class="view hidden" data-page="${esc(p.id)}"><p class="muted">Loading…</p></section>`);
  }
}
async function renderPage(p) {
  const [res, mod] = await Promise.all([fetch(p.path, { cache: 'no-store' }), import(`/pages/${p.id}.js`)]);
  if (!res.ok) throw new Error(`${p.path}: HTTP ${res.status} ${(await res.text()).trim()}`);
  $(`view-${p.id}`).innerHTML = keepOpen($(`view-${p.id}`), mod.render(await res.json()));
}
/** Redraw without closing what the reader expanded: open <details> are matched by their row and type. */
function keepOpen(view, html) {
  const key = (el) => `${el.closest('tr')?.dataset.node ?? ''}|${el.dataset.type ?? ''}`;
  const open = new Set([...view.querySelectorAll('details[open]')].map(key));
  const next = document.createElement('div');
  next.innerHTML = html;
  for (const el of next.querySelectorAll('details')) if (open.has(key(el))) el.setAttribute('open', '');
  return next.innerHTML;
}
const currentPage = () => state.data?.pages.find((p) => location.hash === `#${p.id}`);

// ---------- loop ----------
function showTab() {
  const page = currentPage();
  const tab = location.hash === '#dtab' ? 'dtab' : page ? page.id : 'dashboard';
  for (const view of document.querySelectorAll('main > .view')) view.classList.toggle('hidden', view.id !== `view-${tab}`);
  for (const a of document.querySelectorAll('.tabs .tab')) a.classList.toggle('active', a.id === `tab-${tab}`);
  if (tab === 'dtab' && state.data && !state.delegated) renderDtabSource(state.data);
}
async function refresh() {
  try {
    const res = await fetch('/admin/dashboard.json', { cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const d = await res.json();
    const first = state.data === null;
    state.data = d;
    addPages(d);
    if (first) showTab();
    renderHeader(d);
    const page = currentPage();
    if (page) await renderPage(page);
    else if (location.hash === '#dtab') renderDtabSource(d);
    else renderDashboard(d);
    state.lastOk = Date.now();
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
  const page = currentPage();
  if (page) renderPage(page).catch(() => {});
  else if (state.data) (location.hash === '#dtab' ? renderDtabSource : renderDashboard)(state.data);
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
