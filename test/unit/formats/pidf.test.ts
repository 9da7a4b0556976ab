import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildPidf, overallBasic, parsePidf, presenceDocument, tupleIdFor, type PidfDocument } from '../../../src/formats/pidf.ts';

describe('formats/pidf (RFC 3863)', () => {
  it('round-trips a document through buildPidf and parsePidf', () => {
    const doc: PidfDocument = {
      entity: 'sip:1002@example.com',
      tuples: [
        { id: 'tv-1002', basic: 'open', contact: 'sip:1002@192.0.2.1', timestamp: '2025-01-01T10:00:00.000Z', notes: ['on & <ready>'] },
        { id: 'b', basic: 'closed', contact: null, timestamp: null, notes: [] },
      ],
      notes: ['watching "TV"'],
    };
    assert.deepEqual(parsePidf(buildPidf(doc)), doc);
  });

  it('writes the RFC 3863 namespace, entity and basic status', () => {
    const xml = buildPidf(presenceDocument('sip:1002@example.com', tupleIdFor('1002'), 'closed', 0));
    assert.match(xml, /<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:1002@example.com">/);
    assert.match(xml, /<tuple id="tv-1002">/);
    assert.match(xml, /<status><basic>closed<\/basic><\/status>/);
  });

  it('parses tolerantly: prefixes, comments, CDATA, single quotes, unknown extensions', () => {
    const xml = `<?xml version='1.0'?>
      <!-- from another vendor -->
      <p:presence xmlns:p='urn:ietf:params:xml:ns:pidf' xmlns:x="urn:x" entity='pres:alice@example.com'>
        <p:tuple id='a1'><p:status><p:basic> OPEN </p:basic><x:extra a="1"/></p:status>
          <p:note><![CDATA[a <b> c]]></p:note></p:tuple>
        <x:device id="d"><x:thing>z</x:thing></x:device>
      </p:presence>`;
    const doc = parsePidf(new TextEncoder().encode(xml));
    assert.equal(doc.entity, 'pres:alice@example.com');
    assert.equal(doc.tuples.length, 1);
    assert.equal(doc.tuples[0].basic, 'open');
    assert.deepEqual(doc.tuples[0].notes, ['a <b> c']);
    assert.equal(overallBasic(doc), 'open');
  });

  it('rejects text with no presence root with a TypeError', () => {
    assert.throws(() => parsePidf('hello'), TypeError);
    assert.throws(() => parsePidf('<foo entity="x"/>'), TypeError);
    assert.throws(() => parsePidf('<presence entity="x"><tuple>'), TypeError);
  });

  it('expands no DOCTYPE entity and refuses too deep, too long or prototype-polluting documents (hostile input)', () => {
    const bomb = '<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><presence entity="&b;"><note>&b;</note></presence>';
    assert.deepEqual(parsePidf(bomb), { entity: '&b;', tuples: [], notes: ['&b;'] });
    assert.throws(() => parsePidf('<presence entity="x">' + '<a>'.repeat(100) + '</a>'.repeat(100) + '</presence>'), TypeError);
    assert.throws(() => parsePidf(`<presence entity="x"><note>${'x'.repeat(70_000)}</note></presence>`), TypeError);
    assert.throws(() => parsePidf('<presence entity="x"><__proto__ polluted="1"/></presence>'), TypeError);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('never throws anything but TypeError on arbitrary input (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        try {
          parsePidf(s);
        } catch (e) {
          assert.ok(e instanceof TypeError);
        }
      }),
    );
  });

  it('round-trips any entity and note text (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.string({ maxLength: 40 }), fc.boolean(), (entity, note, open) => {
        const clean = (s: string) => s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ud800-\udfff]/g, '').trim();
        const doc: PidfDocument = {
          entity: clean(entity),
          tuples: [{ id: tupleIdFor(entity), basic: open ? 'open' : 'closed', contact: null, timestamp: null, notes: [clean(note)] }],
          notes: [],
        };
        assert.deepEqual(parsePidf(buildPidf(doc)), doc);
      }),
    );
  });
});
