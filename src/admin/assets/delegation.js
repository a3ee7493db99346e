// The playground's view of a Linkerd /delegator.json tree: which branches routing takes, drawn as
// nested boxes with the route highlighted.
import { esc } from './format.js';

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
/** The tree as HTML with the route highlighted, and a one-line summary of where routing goes. */
export function explainDelegation(tree) {
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
  return { summary, tree: renderNode(tree) };
}
