import assert from 'node:assert/strict';
import { SipRequest } from '../../../src/sip/message.ts';
import { statelessTagOf } from '../../../src/sip/response.ts';

function register(branch: string, cseq = 1): SipRequest {
  const req = new SipRequest('REGISTER', 'sip:example.com');
  req.addHeader('Via', `SIP/2.0/UDP 192.0.2.1:5060;branch=${branch}`);
  req.addHeader('From', '<sip:tv@example.com>;tag=f1');
  req.addHeader('To', '<sip:tv@example.com>');
  req.addHeader('Call-ID', 'c1@192.0.2.1');
  req.addHeader('CSeq', `${cseq} REGISTER`);
  return req;
}

describe('sip/response: statelessTagOf (RFC 3261 §8.2.7)', () => {
  it('gives a retransmission the same To tag and another request another one, as long as a random tag', () => {
    const tag = statelessTagOf(register('z9hG4bK-1'));
    assert.match(tag, /^[0-9a-f]{16}$/);
    assert.equal(statelessTagOf(register('z9hG4bK-1')), tag);
    assert.notEqual(statelessTagOf(register('z9hG4bK-2')), tag);
    assert.notEqual(statelessTagOf(register('z9hG4bK-1', 2)), tag);
  });
});
