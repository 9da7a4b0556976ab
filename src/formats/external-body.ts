// RFC 4483 content indirection, the receiving side: what a message/external-body part of URL access names
// (RFC 2046 §5.2.3, RFC 2017 URL access-type). The server's side is media-server/content-indirection.ts.

/** What a receiver reads from a message/external-body Content-Type (RFC 4483 §4.1), or null when it is not one of URL access. */
export function parseExternalBody(contentType: string, body: Uint8Array): { url: string; size: number | null; expiration: string | null; contentType: string } | null {
  const [type, ...params] = splitParams(contentType);
  if (type.toLowerCase() !== 'message/external-body') return null;
  const p = new Map(params.map(([k, v]) => [k.toLowerCase(), v]));
  if ((p.get('access-type') ?? '').toLowerCase() !== 'url' || !p.get('url')) return null;
  const inner = new TextDecoder().decode(body).split(/\r?\n/);
  const ct = inner.find((l) => /^content-type\s*:/i.test(l))?.replace(/^content-type\s*:\s*/i, '').trim() ?? 'application/octet-stream';
  const size = Number.parseInt(p.get('size') ?? '', 10);
  return { url: p.get('url')!, size: Number.isFinite(size) ? size : null, expiration: p.get('expiration') ?? null, contentType: ct };
}

/** `type; a=1; b="x;y"` → ['type', [['a','1'], ['b','x;y']]] (RFC 2045 §5.1 quoted values kept whole). */
function splitParams(value: string): [string, ...Array<[string, string]>] {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of value) {
    if (ch === '"') quoted = !quoted;
    if (ch === ';' && !quoted) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  const [type, ...rest] = parts.map((s) => s.trim());
  const params = rest.filter(Boolean).map((s): [string, string] => {
    const eq = s.indexOf('=');
    if (eq < 0) return [s, ''];
    const v = s.slice(eq + 1).trim();
    return [s.slice(0, eq).trim(), v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v];
  });
  return [type, ...params];
}
