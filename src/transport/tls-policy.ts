// What our TLS listeners (tls, wss) accept: TLS 1.2 or newer and forward-secret suites only (ECDHE key exchange with
// AEAD ciphers; TLS 1.3 suites are all forward secret), as Mozilla's "intermediate" profile. RFC 3261 §26.2.1
// requires TLS; RFC 8996 retires TLS 1.0/1.1; static-RSA suites such as AES128-SHA give no forward secrecy.
import type { SecureContextOptions } from 'node:tls';

export const TLS_SERVER_POLICY: Pick<SecureContextOptions, 'minVersion' | 'ciphers'> & { honorCipherOrder: boolean } = {
  minVersion: 'TLSv1.2',
  ciphers: [
    'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256',
    'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
  honorCipherOrder: true,
};
