import assert from 'node:assert/strict';
import type { CallRecord } from '../../../src/store/store.ts';
import { buildMissedCallNotice, groupMissedCalls } from '../../../src/offline/missed-call-notice.ts';
import { parseMissedCallNotice, splitMultipart } from '../../../src/formats/missed-call-notice.ts';

const T0 = Date.UTC(2025, 0, 1, 10, 0, 0);

function call(id: number, from: string, at: number, outcome: CallRecord['outcome'] = 'offline'): CallRecord {
  return {
    id, userId: from, otherUserId: '1002', callDate: at, callId: `c${id}`, outcome, status: 480,
    answeredAt: null, endedAt: null, durationMs: null, notifiedAt: null, trunk: null, dialledNumber: null, sentNumber: null,
  };
}

describe('offline/missed-call-notice', () => {
  const calls = [call(3, '1001', T0 + 300_000), call(1, '1001', T0), call(2, '1003', T0 + 60_000)];

  it('groups missed calls per caller with count, first and last, in order of first call', () => {
    assert.deepEqual(groupMissedCalls(calls), [
      { from: '1001', count: 2, first: '2025-01-01T10:00:00.000Z', last: '2025-01-01T10:05:00.000Z' },
      { from: '1003', count: 1, first: '2025-01-01T10:01:00.000Z', last: '2025-01-01T10:01:00.000Z' },
    ]);
  });

  it('is multipart/alternative with a readable text/plain part and an application/json part', () => {
    const n = buildMissedCallNotice('1002', calls, 'BOUNDARY');
    assert.equal(n.contentType, 'multipart/alternative; boundary=BOUNDARY');
    const parts = splitMultipart(n.contentType, new TextDecoder().decode(n.body));
    assert.equal(parts.length, 2);
    assert.equal(parts[0].contentType, 'text/plain; charset=utf-8');
    assert.equal(
      parts[0].body,
      'You missed 3 calls while offline:\r\n- 1001: 2 times, 2025-01-01 10:00 UTC to 2025-01-01 10:05 UTC\r\n- 1003: at 2025-01-01 10:01 UTC\r\n',
    );
    assert.equal(parts[1].contentType, 'application/json');
    assert.deepEqual(JSON.parse(parts[1].body), {
      type: 'missed-calls',
      to: '1002',
      calls: [
        { from: '1001', count: 2, first: '2025-01-01T10:00:00.000Z', last: '2025-01-01T10:05:00.000Z' },
        { from: '1003', count: 1, first: '2025-01-01T10:01:00.000Z', last: '2025-01-01T10:01:00.000Z' },
      ],
    });
  });

  it('parses the notice back (parseMissedCallNotice round trip)', () => {
    const n = buildMissedCallNotice('1002', calls);
    assert.deepEqual(parseMissedCallNotice(n.contentType, n.body), n.json);
    assert.deepEqual(parseMissedCallNotice('application/json', JSON.stringify(n.json)), n.json);
  });

  it('parses a notice with LF-only lines and a quoted boundary', () => {
    const body = 'preamble\n--b1\nContent-Type: text/plain\n\nhi\n--b1\ncontent-type: Application/JSON\n\n{"type":"missed-calls","to":"9","calls":[]}\n--b1--\n';
    assert.deepEqual(parseMissedCallNotice('multipart/alternative; boundary="b1"', body), { type: 'missed-calls', to: '9', calls: [] });
  });

  it('returns null for anything that is not a missed-call notice', () => {
    assert.equal(parseMissedCallNotice('text/plain', 'hello'), null);
    assert.equal(parseMissedCallNotice('application/json', '{"type":"other"}'), null);
    assert.equal(parseMissedCallNotice('application/json', 'not json'), null);
    assert.equal(parseMissedCallNotice('application/json', '{"type":"missed-calls","calls":[{"from":1}]}'), null);
    assert.equal(parseMissedCallNotice('multipart/mixed', '--x\r\n\r\n'), null);
  });
});
