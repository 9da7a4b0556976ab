import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  buildMessageSummary, MESSAGE_CLASSES, parseMessageSummary, voiceSummary, type MessageCounts, type MessageSummary,
} from '../../../src/formats/message-summary.ts';

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('formats/message-summary (RFC 3842 §5)', () => {
  it('writes the status line, the account and the voice summary line, each ending in CRLF', () => {
    const body = buildMessageSummary(voiceSummary('sip:1002@example.com', { new: 2, old: 8, urgentNew: 0, urgentOld: 1 }));
    assert.equal(text(body), 'Messages-Waiting: yes\r\nMessage-Account: sip:1002@example.com\r\nVoice-Message: 2/8 (0/1)\r\n');
  });

  it('says Messages-Waiting: no when nothing is new, even with old messages kept', () => {
    const body = buildMessageSummary(voiceSummary('sip:1002@example.com', { new: 0, old: 3, urgentNew: 0, urgentOld: 0 }));
    assert.match(text(body), /^Messages-Waiting: no\r\n/);
    assert.match(text(body), /\r\nVoice-Message: 0\/3 \(0\/0\)\r\n$/);
  });

  it('refuses a count that is not a non-negative integer', () => {
    assert.throws(() => buildMessageSummary(voiceSummary('sip:a@b', { new: -1, old: 0, urgentNew: 0, urgentOld: 0 })), TypeError);
    assert.throws(() => buildMessageSummary(voiceSummary('sip:a@b', { new: 1.5, old: 0, urgentNew: 0, urgentOld: 0 })), TypeError);
  });

  it('parses RFC 3842 §5.3\'s example: any case, LF or CRLF, urgent counts optional, extension headers after the lines', () => {
    const s = parseMessageSummary(
      'messages-waiting:YES\nMessage-Account: sip:alice@vmail.example.com\r\nvoice-message: 4/8 (1/2)\r\nFax-Message:2/ 0\r\n' +
      '\r\nTo: <sip:alice@atlanta.example.com>\r\nPriority: normal\r\n',
    );
    assert.equal(s.waiting, true);
    assert.equal(s.account, 'sip:alice@vmail.example.com');
    assert.deepEqual(s.counts['voice-message'], { new: 4, old: 8, urgentNew: 1, urgentOld: 2 });
    assert.deepEqual(s.counts['fax-message'], { new: 2, old: 0, urgentNew: 0, urgentOld: 0 });
    assert.equal(Object.keys(s.counts).length, 2);
  });

  it('parses a bare status line (account and summary lines are optional)', () => {
    assert.deepEqual(parseMessageSummary('Messages-Waiting: no\r\n'), { waiting: false, account: null, counts: {} });
  });

  it('throws TypeError on bodies that do not follow the grammar', () => {
    for (const bad of ['', '\r\n', 'Voice-Message: 1/0\r\n', 'Messages-Waiting: maybe\r\n', 'Messages-Waiting yes\r\n',
      'Messages-Waiting: yes\r\nVoice-Message: one/two\r\n', 'Messages-Waiting: yes\r\nVoice-Message: 1/2 (3)\r\n',
      'Messages-Waiting: yes\r\nMessage-Account:\r\n', `Messages-Waiting: yes\r\n${'X-Pad: y\r\n'.repeat(2000)}`]) {
      assert.throws(() => parseMessageSummary(bad), TypeError, JSON.stringify(bad.slice(0, 40)));
    }
  });

  it('round-trips any summary through build and parse', () => {
    const counts: fc.Arbitrary<MessageCounts> = fc.record({ new: fc.nat(1e6), old: fc.nat(1e6), urgentNew: fc.nat(1e6), urgentOld: fc.nat(1e6) });
    const summary: fc.Arbitrary<MessageSummary> = fc.record({
      waiting: fc.boolean(),
      account: fc.option(fc.constantFrom('sip:1002@example.com', 'sips:a@b.example;transport=tls'), { nil: null }),
      counts: fc.dictionary(fc.constantFrom(...MESSAGE_CLASSES), counts, { maxKeys: 6 }),
    });
    // fast-check's records have no prototype: compared as plain objects
    const plain = (s: MessageSummary) => JSON.parse(JSON.stringify(s)) as unknown;
    fc.assert(fc.property(summary, (s) => assert.deepEqual(plain(parseMessageSummary(buildMessageSummary(s))), plain(s))));
  });

  it('never throws anything but TypeError on arbitrary input', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => {
      try {
        parseMessageSummary(`Messages-Waiting: yes\r\n${s}`);
      } catch (err) {
        assert.ok(err instanceof TypeError, String(err));
      }
    }));
  });
});
