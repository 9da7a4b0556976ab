// Where the answer to each RFC 4475 request goes, read from the fixture's own Via (RFC 3261 §18.2.2, RFC 3581 §4):
// pure, no socket, so the fixtures' sent-by hosts (192.0.2.x, example.com names) are only read, never sent to.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { SipRequest } from '../../../src/sip/message.ts';
import { parseMessage } from '../../../src/sip/parser.ts';
import { reject, rejectUnparsable, type Rejection } from '../../../src/transport/reject.ts';
import { responseTarget } from '../../../src/transport/response-target.ts';
import type { Source, Target } from '../../../src/transport/transport.ts';
import { stampTopVia } from '../../../src/transport/via-stamp.ts';
import { ANSWERS } from '../../fixtures/rfc4475/answers.ts';

const load = (name: string) => readFileSync(new URL(`../../fixtures/rfc4475/${name}.dat`, import.meta.url));
const local = { id: 3, transport: 'udp' as const, host: '127.0.0.1', port: 5060 };
const UDP: Source = { transport: 'udp', address: '198.51.100.7', port: 40123, connectionId: null, local };
const TCP: Source = { transport: 'tcp', address: '198.51.100.7', port: 40124, connectionId: 7, local: { ...local, id: 4, transport: 'tcp' } };
/** the top Via's sent-by port where it is not the default 5060 */
const SENT_BY_PORT: Record<string, number> = { quotbal: 5050 };
/** the top Via carries rport (RFC 3581) */
const RPORT = new Set(['mpart01']);

/** What the server would send back for `name` from `source`: the transport's answer, or the target the transaction layer uses. */
function answer(name: string, source: Source): { rejection: Rejection | null; target: Target } {
  const bytes = load(name);
  try {
    const req = parseMessage(bytes) as SipRequest;
    stampTopVia(req, source.address, source.port); // as NetworkTransport.deliver does before the transaction layer sees it
    return { rejection: null, target: responseTarget(req.topVia(), source) };
  } catch (err) {
    const rejection = rejectUnparsable(err, source);
    assert.ok(rejection !== null, `${name}: answerable`);
    return { rejection, target: rejection.target };
  }
}

const requests = Object.entries(ANSWERS).filter(([, a]) => a.status !== null);

describe('RFC 4475 answers: where they go (RFC 3261 §18.2.2)', () => {
  for (const [name, a] of requests) {
    it(`§${a.section} ${name}: over UDP to the source address at ${RPORT.has(name) ? 'the source port (rport)' : 'the sent-by port'}`, () => {
      const { rejection, target } = answer(name, UDP);
      // §18.2.2: "received" (the source address), never the Via's sent-by host
      assert.equal(target.address, '198.51.100.7');
      assert.equal(target.port, RPORT.has(name) ? 40123 : SENT_BY_PORT[name] ?? 5060);
      assert.equal(target.transport, 'udp');
      assert.equal(target.listenerId, 3, 'from the socket the request came in on');
      assert.equal(rejection !== null, a.parseError === true, 'answered by the transport');
      if (rejection !== null) {
        assert.equal(rejection.response.status, a.status);
        assert.match(rejection.response.reason, a.reason!);
        // §18.2.1: the sent-by host is not the source, so the copied Via says where the request came from
        assert.match(rejection.response.headers.find((h) => h.key === 'via')!.value, /;received=198\.51\.100\.7/);
      }
    });

    it(`§${a.section} ${name}: over TCP on the connection it came on`, () => {
      const { target } = answer(name, TCP);
      assert.deepEqual([target.transport, target.address, target.connectionId], ['tcp', '198.51.100.7', 7]);
    });
  }
});

describe('transport: reject', () => {
  it('answers no ACK, however malformed (an ACK has no response, RFC 3261 §17)', () => {
    const ack = new SipRequest('ACK', 'sip:a@example.com');
    ack.addHeader('Via', 'SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKack');
    assert.equal(reject(ack, 400, 'Bad Request', UDP), null);
  });

  it('answers nothing without a Via that can be read', () => {
    const req = new SipRequest('OPTIONS', 'sip:a@example.com');
    assert.equal(reject(req, 400, 'Bad Request', UDP), null);
    req.addHeader('Via', 'SIP/2.0/UDP');
    assert.equal(reject(req, 400, 'Bad Request', UDP), null);
    assert.equal(rejectUnparsable(new Error('not a parse error'), UDP), null);
  });

  it('fills rport and received in the copied Via (RFC 3581 §4)', () => {
    const req = new SipRequest('OPTIONS', 'sip:a@example.com');
    req.addHeader('Via', 'SIP/2.0/UDP 192.0.2.1:5070;rport;;branch=z9hG4bKr');
    const r = reject(req, 400, 'Bad Via header', UDP)!;
    assert.equal(r.response.header('via'), 'SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKr;received=198.51.100.7;rport=40123');
    assert.deepEqual([r.target.address, r.target.port], ['198.51.100.7', 40123]);
  });
});
