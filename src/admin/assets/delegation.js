// The playground's view of a /delegator.json tree, drawn as nested boxes. What routing does with
// each node (its outcome, whether it is chosen, its share of calls, and the status calls that end
// there get) comes from the server, computed by the router's own rules: this file only draws it.
import { esc } from './format.js';

const KIND_LABEL = {
  delegate: 'Possible resolution path', alt: 'Several possible resolution paths (first that is not neg wins)',
  union: 'Several simultaneous resolution paths (weighted)', leaf: 'Namer match', neg: 'No further branch matches',
  fail: 'Explicit failure', empty: 'Empty', exception: 'Error', transformation: 'Transformation',
};
const FAILS = {
  'no route': 'no route',
  'no endpoints': 'no endpoints',
  'binding failed': 'binding failed',
};

function addrText(bound) {
  const a = bound && bound.addr;
  if (!a) return '';
  if (a.type === 'bound') return a.addrs.length ? a.addrs.map((x) => `${x.ip}:${x.port}`).join(', ') : 'no endpoints';
  if (a.type === 'failed') return 'failed: ' + a.cause;
  return a.type;
}
function children(node) {
  switch (node.type) {
    case 'delegate': return [node.delegate];
    case 'transformation': return [node.tree];
    case 'alt': return node.alt;
    case 'union': return node.union.map((w) => w.tree);
    default: return [];
  }
}
function pct(share) {
  const p = share * 100;
  return p >= 1 || p === 0 ? `${Math.round(p)}%` : `${p.toFixed(1)}%`;
}
function failText(r) {
  return r && r.fails ? `${esc(r.status ?? 'fails')} (${esc(FAILS[r.fails] ?? r.fails)})` : '';
}
function renderNode(node, weight) {
  const r = node.routing ?? {};
  const cls = `dnode type-${esc(node.type)} outcome-${esc(r.outcome)} ${r.chosen ? 'chosen' : 'unchosen'}${r.chosen && r.fails ? ' fails' : ''}`;
  const dentry = node.dentry ? `<span class="dentry">via <b>${esc(node.dentry.prefix)}</b> =&gt; <b>${esc(node.dentry.dst)}</b></span>` : '';
  const w = weight ? `<span class="dweight">weight ${esc(weight.weight)}${r.chosen ? ` · ${pct(r.share)} of calls` : ''}</span>` : '';
  let extra = '';
  switch (node.type) {
    case 'transformation': extra = `<span class="dentry">${esc(node.name)}</span>`; break;
    case 'leaf':
      extra = `<span class="badge ${esc(node.bound?.addr?.type ?? '')}">${esc(node.bound?.addr?.type ?? '')}</span><span class="daddrs">${esc(addrText(node.bound))}</span>${node.bound && node.bound.path && node.bound.path !== '/' ? `<span class="dentry">residual <b>${esc(node.bound.path)}</b></span>` : ''}`;
      break;
    case 'exception': extra = `<span class="dmsg">${esc(node.message)}</span>`; break;
  }
  if (r.chosen && r.fails) extra += `<span class="dfails">calls fail: ${failText(r)}</span>`;
  const shownPath = node.type === 'leaf' && node.bound && node.bound.id ? node.bound.id : node.path;
  const inner = node.type === 'union' ? node.union.map((u) => renderNode(u.tree, u)).join('') : children(node).map((c) => renderNode(c)).join('');
  return `<div class="${cls}" data-type="${esc(node.type)}" data-path="${esc(shownPath)}" data-share="${esc(r.share ?? 0)}"><div class="dhead">${w}<span class="dkind">${esc(KIND_LABEL[node.type] ?? node.type)}</span><code class="dpath">${esc(shownPath)}</code>${dentry}${extra}</div>${inner}</div>`;
}
/** Where the chosen routes end: the chosen nodes without chosen children. */
function ends(node, out = []) {
  if (!node.routing || !node.routing.chosen) return out;
  const next = children(node).filter((c) => c.routing && c.routing.chosen);
  if (next.length === 0) out.push(node);
  else for (const c of next) ends(c, out);
  return out;
}
function endText(node) {
  const where = node.type === 'leaf' ? `<span class="route">${esc(node.bound.id)}</span> <span class="daddrs">(${esc(addrText(node.bound))})</span>` : `<code>${esc(node.path)}</code> (${esc(node.type)})`;
  const share = node.routing.share < 1 ? `${pct(node.routing.share)} of calls to ` : '';
  return node.routing.fails ? `${share}${where}: <span class="err">calls fail with ${failText(node.routing)}</span>` : `${share}${where}`;
}
/** The tree as HTML with the route highlighted, and a one-line summary of where routing goes. */
export function explainDelegation(tree) {
  const routes = ends(tree);
  let summary;
  if (routes.every((n) => !n.routing.fails)) {
    summary = `Routing sends this name to ${routes.map(endText).join(' and ')}.`;
  } else if (routes.length === 1) {
    const n = routes[0];
    const why = n.type === 'leaf' ? `it binds to <span class="route">${esc(n.bound.id)}</span>, which has ${esc(addrText(n.bound))}`
      : n.type === 'exception' ? `binding fails: ${esc(n.message)}`
      : n.type === 'fail' ? `the route ends in an explicit failure at <code>${esc(n.path)}</code>`
      : n.type === 'empty' ? `the route ends at an empty name, <code>${esc(n.path)}</code>`
      : 'nothing in the dtab or the namers binds this name';
    summary = `<span class="err">Calls to this name fail with ${failText(n.routing)}: ${why}.</span>`;
  } else {
    summary = `Routing splits this name: ${routes.map(endText).join('; ')}.`;
  }
  return { summary, tree: renderNode(tree) };
}
