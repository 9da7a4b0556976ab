// Presence Information Data Format (RFC 3863). Pure, no XML library: the builder writes the minimal
// document RFC 3856 §6.2 asks for, the parser is tolerant (namespace prefixes, comments, CDATA,
// single or double quotes, unknown elements and extensions are skipped).
//
//   <?xml version="1.0" encoding="UTF-8"?>
//   <presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:1002@example.com">
//     <tuple id="tv-1002">
//       <status><basic>open</basic></status>
//       <timestamp>2025-01-01T10:00:00.000Z</timestamp>
//     </tuple>
//   </presence>

export const PIDF_CONTENT_TYPE = 'application/pidf+xml';
export const PIDF_NAMESPACE = 'urn:ietf:params:xml:ns:pidf';

export type BasicStatus = 'open' | 'closed';

export interface PidfTuple {
  /** xs:ID: starts with a letter or '_' (RFC 3863 §4.1.2) */
  id: string;
  /** null when the tuple carried no <basic> (RFC 3863 §4.1.4 allows status with extensions only) */
  basic: BasicStatus | null;
  contact: string | null;
  /** ISO 8601 text as written */
  timestamp: string | null;
  notes: string[];
}

export interface PidfDocument {
  /** the presentity's URI (RFC 3863 §4.1.1) */
  entity: string;
  tuples: PidfTuple[];
  /** <note> elements directly under <presence> */
  notes: string[];
}

// ---------------------------------------------------------------------------------------------- build

/** XML-escape text or an attribute value. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&apos;'));
}

/** A tuple id valid as xs:ID (RFC 3863 §4.1.2) made from any text, e.g. a user id "1002" → "tv-1002". */
export function tupleIdFor(text: string): string {
  return 'tv-' + text.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** Serialize a PIDF document (UTF-8 text). */
export function buildPidf(doc: PidfDocument): string {
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>', `<presence xmlns="${PIDF_NAMESPACE}" entity="${escapeXml(doc.entity)}">`];
  for (const t of doc.tuples) {
    lines.push(`  <tuple id="${escapeXml(t.id)}">`);
    lines.push(t.basic ? `    <status><basic>${t.basic}</basic></status>` : '    <status/>');
    if (t.contact !== null) lines.push(`    <contact>${escapeXml(t.contact)}</contact>`);
    for (const n of t.notes) lines.push(`    <note>${escapeXml(n)}</note>`);
    if (t.timestamp !== null) lines.push(`    <timestamp>${escapeXml(t.timestamp)}</timestamp>`);
    lines.push('  </tuple>');
  }
  for (const n of doc.notes) lines.push(`  <note>${escapeXml(n)}</note>`);
  lines.push('</presence>');
  return lines.join('\r\n') + '\r\n';
}

/** The one-tuple document tvphone sends for a user: open when User_netstate = 1. */
export function presenceDocument(entity: string, tupleId: string, basic: BasicStatus, since: number | null): PidfDocument {
  return {
    entity,
    tuples: [{ id: tupleId, basic, contact: null, timestamp: since === null ? null : new Date(since).toISOString(), notes: [] }],
    notes: [],
  };
}

// ---------------------------------------------------------------------------------------------- parse

interface XmlElement {
  /** local name, prefix removed */
  name: string;
  attrs: Map<string, string>;
  children: XmlElement[];
  text: string;
}

const MAX_DEPTH = 64;

/**
 * Parse a PIDF document. Throws TypeError when the text has no <presence> root element or is not
 * well-formed enough to read one; unknown elements are ignored (RFC 3863 §4.3 extensibility).
 */
export function parsePidf(input: string | Uint8Array): PidfDocument {
  const text = typeof input === 'string' ? input : new TextDecoder('utf-8').decode(input);
  const root = parseXml(text);
  if (root.name !== 'presence') throw new TypeError(`PIDF: root element is <${root.name}>, expected <presence>`);
  const entity = root.attrs.get('entity');
  if (entity === undefined) throw new TypeError('PIDF: <presence> has no entity attribute');
  const tuples: PidfTuple[] = [];
  const notes: string[] = [];
  for (const child of root.children) {
    if (child.name === 'note') notes.push(child.text.trim());
    if (child.name !== 'tuple') continue;
    const status = child.children.find((c) => c.name === 'status');
    const basicEl = status?.children.find((c) => c.name === 'basic');
    const basicText = basicEl?.text.trim().toLowerCase();
    const basic: BasicStatus | null = basicText === 'open' ? 'open' : basicText === 'closed' ? 'closed' : null;
    const contact = child.children.find((c) => c.name === 'contact');
    const timestamp = child.children.find((c) => c.name === 'timestamp');
    tuples.push({
      id: child.attrs.get('id') ?? '',
      basic,
      contact: contact ? contact.text.trim() : null,
      timestamp: timestamp ? timestamp.text.trim() : null,
      notes: child.children.filter((c) => c.name === 'note').map((c) => c.text.trim()),
    });
  }
  return { entity, tuples, notes };
}

/** The presentity's overall basic status: open when any tuple is open (RFC 3863 §4.1.4), else closed. */
export function overallBasic(doc: PidfDocument): BasicStatus {
  return doc.tuples.some((t) => t.basic === 'open') ? 'open' : 'closed';
}

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (_m, e: string) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : '';
    }
    return e === 'amp' ? '&' : e === 'lt' ? '<' : e === 'gt' ? '>' : e === 'quot' ? '"' : "'";
  });
}

function localName(qname: string): string {
  const colon = qname.indexOf(':');
  return colon < 0 ? qname : qname.slice(colon + 1);
}

/** A small, forgiving XML reader: returns the first (root) element. */
function parseXml(text: string): XmlElement {
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const lt = text.indexOf('<', i);
    const chunk = lt < 0 ? text.slice(i) : text.slice(i, lt);
    if (stack.length && chunk) stack[stack.length - 1].text += decodeEntities(chunk);
    if (lt < 0) break;
    if (text.startsWith('<!--', lt)) {
      const end = text.indexOf('-->', lt + 4);
      if (end < 0) throw new TypeError('PIDF: unterminated comment');
      i = end + 3;
    } else if (text.startsWith('<![CDATA[', lt)) {
      const end = text.indexOf(']]>', lt + 9);
      if (end < 0) throw new TypeError('PIDF: unterminated CDATA');
      if (stack.length) stack[stack.length - 1].text += text.slice(lt + 9, end);
      i = end + 3;
    } else if (text[lt + 1] === '?' || text[lt + 1] === '!') {
      const end = text.indexOf('>', lt);
      if (end < 0) throw new TypeError('PIDF: unterminated declaration');
      i = end + 1;
    } else if (text[lt + 1] === '/') {
      const end = text.indexOf('>', lt);
      if (end < 0) throw new TypeError('PIDF: unterminated end tag');
      const name = localName(text.slice(lt + 2, end).trim());
      const top = stack.pop();
      if (!top || top.name !== name) throw new TypeError(`PIDF: unexpected </${name}>`);
      if (stack.length === 0) return top;
      i = end + 1;
    } else {
      const end = findTagEnd(text, lt + 1);
      if (end < 0) throw new TypeError('PIDF: unterminated start tag');
      const selfClosing = text[end - 1] === '/';
      const inner = text.slice(lt + 1, selfClosing ? end - 1 : end);
      const nameMatch = /^[^\s/>]+/.exec(inner);
      if (!nameMatch) throw new TypeError('PIDF: empty tag');
      const el: XmlElement = { name: localName(nameMatch[0]), attrs: new Map(), children: [], text: '' };
      const attrRe = /([^\s=]+)\s*=\s*("([^"]*)"|'([^']*)')/g;
      const attrText = inner.slice(nameMatch[0].length);
      for (let m = attrRe.exec(attrText); m; m = attrRe.exec(attrText)) {
        el.attrs.set(localName(m[1]), decodeEntities(m[3] ?? m[4] ?? ''));
      }
      if (stack.length) stack[stack.length - 1].children.push(el);
      else if (root === null) root = el;
      if (!selfClosing) {
        if (stack.length >= MAX_DEPTH) throw new TypeError('PIDF: nesting too deep');
        stack.push(el);
      } else if (stack.length === 0) return el;
      i = end + 1;
    }
  }
  if (root === null) throw new TypeError('PIDF: no element');
  throw new TypeError(`PIDF: <${root.name}> is not closed`);
}

/** Index of the '>' closing a start tag, skipping quoted attribute values. */
function findTagEnd(text: string, from: number): number {
  let quote = '';
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '>') return i;
  }
  return -1;
}
