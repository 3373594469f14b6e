/**
 * Small, dependency-free helpers for the gateway's HTML and plain-text output: escaping
 * (every string from a peer — nicknames, errors — is untrusted), sizes, times.
 */

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escape text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/** Template tag: interpolations are escaped unless wrapped with `raw()`. */
export function html(strings: TemplateStringsArray, ...values: Array<string | number | RawHtml | RawHtml[] | undefined>): RawHtml {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v instanceof RawHtml) out += v.text;
    else if (Array.isArray(v)) out += v.map((x) => x.text).join('');
    else if (v !== undefined) out += escapeHtml(String(v));
    out += strings[i + 1];
  }
  return new RawHtml(out);
}

export class RawHtml {
  constructor(readonly text: string) {}
}

export function raw(text: string): RawHtml {
  return new RawHtml(text);
}

/** Decimal units, as Tahoe-LAFS's abbreviate_size prints them ("1.50 GB"). */
export function abbreviateSize(bytes: number | bigint | undefined): string {
  if (bytes === undefined) return '?';
  const n = typeof bytes === 'bigint' ? Number(bytes) : bytes;
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  let v = n;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v.toFixed(2)} ${units[u]}`;
}

/** "4 s", "3 min", "2 h 5 min", "3 days". */
export function describeDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} days`;
}

/** Local time as Tahoe's welcome page prints it: "14:03:59 27-Nov-2026". */
export function formatTime(epochMs: number): string {
  const d = new Date(epochMs);
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${p(d.getDate())}-${months[d.getMonth()]}-${d.getFullYear()}`;
}
