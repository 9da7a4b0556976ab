// Presence Information Data Format (RFC 3863): the wire format the presence agent writes and the TV agent
// reads. The builder writes the minimal document RFC 3856 §6.2 asks for; the parser (fast-xml-parser, set
// against hostile input) takes any well-formed document: namespace prefixes, comments, CDATA, either
// quote, and unknown elements and extensions are skipped (RFC 3863 §4.3).
//
//   <?xml version="1.0" encoding="UTF-8"?>
//   <presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:1002@example.com">
//     <tuple id="tv-1002">
//       <status><basic>open</basic></status>
//       <timestamp>2025-01-01T10:00:00.000Z</timestamp>
//     </tuple>
//   </presence>

import { XMLParser, XMLValidator } from 'fast-xml-parser';

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

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\r': '&#13;' };

/** XML-escape text or an attribute value; CR as a character reference, which XML's line-end handling keeps (XML 1.0 §2.11). */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"'\r]/g, (c) => ESCAPES[c]);
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

/** limits against hostile input: a PIDF document is a few hundred bytes (RFC 3856 §6.2) */
const MAX_LENGTH = 65_536;
const MAX_DEPTH = 64;

/**
 * Limits set against hostile input: no entity processing at all (DOCTYPE entities are never expanded; the five
 * predefined ones and character references are decoded below, without recursion), bounded nesting; names
 * such as __proto__ are refused by the parser (strictReservedNames). Order kept, values left as text.
 */
const parser = new XMLParser({
  preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: '', removeNSPrefix: true, allowBooleanAttributes: true,
  parseTagValue: false, parseAttributeValue: false, trimValues: false, cdataPropName: '#cdata', ignoreDeclaration: true,
  ignorePiTags: true, processEntities: false, htmlEntities: false, maxNestedTags: MAX_DEPTH, strictReservedNames: true,
});

/**
 * Parse a PIDF document. Throws TypeError when the text is not well-formed XML, is too large or too deep,
 * or has no <presence> root with an entity; unknown elements are ignored (RFC 3863 §4.3 extensibility).
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

/** fast-xml-parser's ordered output: one node per element, `{ name: children, ':@': attrs }`, or a text/CDATA node. */
type OrderedNode = Record<string, unknown>;

/** The root element of a well-formed document. */
function parseXml(input: string): XmlElement {
  if (input.length > MAX_LENGTH) throw new TypeError(`PIDF: document longer than ${MAX_LENGTH} characters`);
  const text = input.replace(/^\uFEFF/, '').trimStart();
  const valid = XMLValidator.validate(text, { allowBooleanAttributes: true });
  if (valid !== true) throw new TypeError(`PIDF: not well-formed XML: ${valid.err.msg} (line ${valid.err.line})`);
  let nodes: OrderedNode[];
  try {
    nodes = parser.parse(text) as OrderedNode[];
  } catch (err) {
    throw new TypeError(`PIDF: ${(err as Error).message}`);
  }
  const root = nodes.map(toElement).find((e) => e !== null);
  if (root === undefined) throw new TypeError('PIDF: no element');
  return root;
}

function toElement(node: OrderedNode): XmlElement | null {
  const name = Object.keys(node).find((k) => k !== ':@' && k !== '#text' && k !== '#cdata');
  if (name === undefined) return null;
  const attrs = new Map<string, string>();
  for (const [k, v] of Object.entries((node[':@'] ?? {}) as Record<string, unknown>)) attrs.set(k, typeof v === 'string' ? decodeEntities(v) : '');
  const el: XmlElement = { name, attrs, children: [], text: '' };
  for (const child of node[name] as OrderedNode[]) {
    if (typeof child['#text'] === 'string') el.text += decodeEntities(child['#text']);
    else if (Array.isArray(child['#cdata'])) el.text += (child['#cdata'] as OrderedNode[]).map((c) => String(c['#text'] ?? '')).join('');
    else {
      const sub = toElement(child);
      if (sub !== null) el.children.push(sub);
    }
  }
  return el;
}
