// Small time-series charts as inline SVG: one or more lines over the sampled seconds.
import { esc } from './format.js';

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
export function chartCard(key, title, now, width, t, lines, opts) {
  const legend = lines.length > 1 ? lines.map((l) => `<span><i style="background:${l.color}"></i>${esc(l.label)}</span>`).join(' ') : '';
  return `<div class="chart" data-chart="${esc(key)}"><div class="ctitle"><span>${esc(title)} <b>${now}</b></span><span class="legend">${legend}</span></div>${chartSvg(width, t, lines, { ...opts, title })}</div>`;
}
