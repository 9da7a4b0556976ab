import assert from 'node:assert/strict';
import { destinationOfUri } from '../../../src/transaction/locate.ts';

describe('transaction/locate: the destination of a URI (RFC 3263 §4.1 for numeric hosts)', () => {
  it('keeps the transport parameter of a bare Request-URI (an in-dialog BYE to a TCP Contact goes over TCP)', () => {
    assert.deepEqual(destinationOfUri('sip:1002@127.0.0.1:45861;transport=tcp'), { transport: 'tcp', address: '127.0.0.1', port: 45861 });
  });

  it('reads a Route name-addr inside its brackets', () => {
    assert.deepEqual(destinationOfUri('<sip:127.0.0.1:5060;transport=tcp;lr>'), { transport: 'tcp', address: '127.0.0.1', port: 5060 });
  });

  it('defaults to UDP, TLS for sips, and is null for a name', () => {
    assert.deepEqual(destinationOfUri('sip:1002@127.0.0.1'), { transport: 'udp', address: '127.0.0.1', port: 5060 });
    assert.deepEqual(destinationOfUri('sips:1002@127.0.0.1'), { transport: 'tls', address: '127.0.0.1', port: 5061 });
    assert.equal(destinationOfUri('sip:1002@tv.example'), null);
  });
});
