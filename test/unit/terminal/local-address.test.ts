import assert from 'node:assert/strict';
import { localAddressFor } from '../../../src/terminal/agent/local-address.ts';

describe('terminal/agent/local-address: the address of the interface that routes to the server', () => {
  it('is the loopback address for a server on loopback (a connected UDP socket, no packet sent)', async () => {
    assert.equal(await localAddressFor('127.0.0.1', 5060), '127.0.0.1');
  });

  it('is ::1 for a server on IPv6 loopback', async () => {
    assert.equal(await localAddressFor('::1', 5060), '::1');
  });

  it('falls back to loopback when the socket cannot connect (port 0)', async () => {
    assert.equal(await localAddressFor('127.0.0.1', 0), '127.0.0.1');
  });
});
