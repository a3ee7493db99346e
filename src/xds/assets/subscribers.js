// The control plane's Subscribers tab (an admin page, see src/admin/deps.ts AdminPage): draws
// /xds/subscribers.json, one row per ADS stream, most behind first.

import { esc, fmtAgo } from '/assets/format.js';

const TYPES = ['listener', 'route', 'cluster', 'endpoint'];

function tile(label, value, sub, cls = '') {
  return `<div class="tile"><div class="label">${label}</div><div class="value ${cls}">${value}</div><div class="sub">${sub}</div></div>`;
}
function ago(iso, now) {
  const sec = Math.max(0, Math.round((Date.parse(now) - Date.parse(iso)) / 1000));
  return sec < 60 ? `${sec}s` : sec < 3600 ? `${Math.floor(sec / 60)}m ${sec % 60}s` : `${Math.floor(sec / 3600)}h ${Math.floor((sec % 3600) / 60)}m`;
}
function namesCell(type, t) {
  const list = t.names.map((n) => `<li><code>${esc(n)}</code></li>`).join('');
  const rest = t.nameCount > t.names.length ? `<li class="muted">and ${t.nameCount - t.names.length} more</li>` : '';
  return `<details data-type="${type}"><summary>${esc(type)} <b>${t.nameCount}</b></summary><ul class="names">${list}${rest}</ul></details>`;
}
function lagCell(type, t, now) {
  const acked = t.acked === '' ? 'none' : esc(t.acked);
  const lag = t.behind === 0
    ? `<span class="good">current</span>`
    : `<span class="bad">${t.behind} behind</span>${t.sentAt ? ` <span class="muted">for ${ago(t.sentAt, now)}</span>` : ''}`;
  return `<div class="lag" data-type="${type}" title="sent version ${esc(t.version)}, ACKed ${acked}">${esc(type)} <code>${acked}</code>/<code>${esc(t.version)}</code> ${lag}</div>`;
}
function nackCell(s, now) {
  const nacks = TYPES.filter((type) => s.types[type]?.lastNack).map((type) => ({ type, ...s.types[type].lastNack }));
  if (!nacks.length) return '<span class="muted">none</span>';
  return nacks
    .map((n) => `<div class="nack" data-type="${n.type}"><b>${esc(n.type)}</b> ${n.at ? `<span class="muted" title="${esc(fmtAgo(n.at))}">${ago(n.at, now)} ago</span>` : ''}<div class="err">${esc(n.error)}</div></div>`)
    .join('');
}
function row(s, now) {
  const types = TYPES.filter((type) => s.types[type]);
  const where = [s.cluster && `cluster <code>${esc(s.cluster)}</code>`, s.locality && `locality <code>${esc(s.locality)}</code>`].filter(Boolean).join(' · ');
  return `<tr data-node="${esc(s.node)}" data-behind="${s.behind}">
    <td><code>${esc(s.node || '(no node id)')}</code>${where ? `<div class="muted">${where}</div>` : ''}</td>
    <td><code>${esc(s.peer)}</code></td>
    <td title="${esc(fmtAgo(s.connectedAt))}">${ago(s.connectedAt, now)} ago</td>
    <td>${types.map((type) => namesCell(type, s.types[type])).join('') || '<span class="muted">nothing yet</span>'}</td>
    <td>${types.map((type) => lagCell(type, s.types[type], now)).join('')}</td>
    <td>${nackCell(s, now)}</td></tr>`;
}

export function render(d) {
  const t = d.totals;
  const rows = d.subscribers.map((s) => row(s, d.now)).join('');
  return `<div class="card subscribers">
    <div class="card-head"><h2>Subscribers</h2><span class="muted">ADS streams, most behind first; versions are ACKed/sent per type</span></div>
    <div class="tiles">
      ${tile('streams', String(t.streams), 'ADS streams open')}
      ${tile('subscriptions', String(t.subscriptions), `${t.names} distinct names followed`)}
      ${tile('behind', String(t.behind), 'streams with an unACKed response', t.behind ? 'warn' : '')}
      ${tile('NACKing', String(t.nacking), 'streams whose last answer was a NACK', t.nacking ? 'bad' : '')}
    </div>
    ${d.subscribers.length
      ? `<table class="subscribers"><thead><tr><th>node</th><th>peer</th><th>connected</th><th>names</th><th>ACKed / sent</th><th>last NACK</th></tr></thead><tbody>${rows}</tbody></table>`
      : '<p class="muted">No subscribers connected.</p>'}
    ${d.more ? `<p class="muted" id="subscribers-more">and ${d.more} more not listed (<a href="/xds/subscribers.json?limit=10000">all as JSON</a>)</p>` : ''}
  </div>`;
}
