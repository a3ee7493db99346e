// Number and text formatting for the dashboard (and HTML escaping: every value shown passes esc).

export function esc(v) {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}
export function fmtRate(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (v === 0) return '0';
  if (v < 10) return v.toFixed(2);
  if (v < 1000) return v.toFixed(1);
  return (v / 1000).toFixed(1) + 'k';
}
export function fmtMs(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (v < 1) return v.toFixed(2) + ' ms';
  if (v < 100) return v.toFixed(1) + ' ms';
  if (v < 10000) return Math.round(v) + ' ms';
  return (v / 1000).toFixed(1) + ' s';
}
export function fmtPct(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const p = v * 100;
  return (p === 100 ? '100' : p >= 99.9 ? p.toFixed(2) : p.toFixed(1)) + '%';
}
export function pctClass(v) {
  if (v === null || v === undefined) return '';
  return v >= 0.995 ? 'good' : v >= 0.95 ? 'warn' : 'bad';
}
export function fmtBytes(v) {
  return v >= 1 << 30 ? (v / (1 << 30)).toFixed(2) + ' GiB' : (v / (1 << 20)).toFixed(1) + ' MiB';
}
export function fmtDuration(sec) {
  const d = Math.floor(sec / 86400), h = Math.floor((sec % 86400) / 3600), m = Math.floor((sec % 3600) / 60), s = sec % 60;
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${s}s` : `${s}s`;
}
export function fmtAgo(iso) {
  if (!iso) return 'never';
  const sec = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return `${new Date(iso).toLocaleString()} (${fmtDuration(sec)} ago)`;
}
