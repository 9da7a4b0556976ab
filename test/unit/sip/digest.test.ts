// Digest vectors: RFC 2617 §3.5 and RFC 7616 §3.9.1.
import { strict as assert } from 'node:assert';
import { buildAuthorization, createChallenge, digestResponse, ha1, verifyDigest } from '../../../src/sip/digest.ts';
import { parseAuthParams } from '../../../src/sip/headers.ts';

describe('digest (RFC 2617, RFC 7616)', () => {
  it('RFC 2617 §3.5: Mufasa / testrealm@host.com gives response 6629fae49393a05397450978507c4ef1', () => {
    const key = ha1('MD5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life');
    const r = digestResponse({ alg: 'MD5', ha1: key, nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093', nc: '00000001', cnonce: '0a4f113b', qop: 'auth', method: 'GET', uri: '/dir/index.html' });
    assert.equal(r, '6629fae49393a05397450978507c4ef1');
  });

  const nonce = '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v';
  const cnonce = 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ';
  it('RFC 7616 §3.9.1: SHA-256 response 753927fa...', () => {
    const key = ha1('SHA-256', 'Mufasa', 'http-auth@example.org', 'Circle of Life');
    assert.equal(digestResponse({ alg: 'SHA-256', ha1: key, nonce, nc: '00000001', cnonce, qop: 'auth', method: 'GET', uri: '/dir/index.html' }),
      '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
  });
  it('RFC 7616 §3.9.1: MD5 response 8ca523f5...', () => {
    const key = ha1('MD5', 'Mufasa', 'http-auth@example.org', 'Circle of Life');
    assert.equal(digestResponse({ alg: 'MD5', ha1: key, nonce, nc: '00000001', cnonce, qop: 'auth', method: 'GET', uri: '/dir/index.html' }),
      '8ca523f5e9506fed4657c9700eebdbec');
  });

  for (const algorithm of ['MD5', 'SHA-256'] as const) {
    it(`verifies what buildAuthorization answers to createChallenge (${algorithm}), and refuses a wrong password`, () => {
      const challenge = parseAuthParams(createChallenge({ realm: 'tv.example.com', nonce: 'abc123', algorithm, opaque: 'op' })).params;
      assert.equal(challenge.get('qop'), 'auth');
      const auth = buildAuthorization({ challenge, user: 'alice', password: 's3cret', method: 'REGISTER', uri: 'sip:tv.example.com', nc: 1, cnonce: 'xyz' });
      const p = parseAuthParams(auth);
      assert.equal(p.scheme, 'Digest');
      assert.equal(p.params.get('nc'), '00000001');
      assert.equal(p.params.get('opaque'), 'op');
      assert.ok(verifyDigest({ params: p.params, method: 'REGISTER', ha1: ha1(algorithm, 'alice', 'tv.example.com', 's3cret') }));
      assert.ok(!verifyDigest({ params: p.params, method: 'REGISTER', ha1: ha1(algorithm, 'alice', 'tv.example.com', 'wrong') }));
      assert.ok(!verifyDigest({ params: p.params, method: 'INVITE', ha1: ha1(algorithm, 'alice', 'tv.example.com', 's3cret') }));
    });
  }

  it('verifies legacy RFC 2069 credentials without qop', () => {
    const key = ha1('MD5', 'bob', 'r', 'pw');
    const response = digestResponse({ alg: 'MD5', ha1: key, nonce: 'n', nc: '', cnonce: '', qop: null, method: 'INVITE', uri: 'sip:x@y' });
    const params = new Map([['username', 'bob'], ['realm', 'r'], ['nonce', 'n'], ['uri', 'sip:x@y'], ['response', response]]);
    assert.ok(verifyDigest({ params, method: 'INVITE', ha1: key }));
  });
});
