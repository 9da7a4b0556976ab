import assert from 'node:assert/strict';
import { pushParametersOf, MAX_PROVIDER, MAX_PUSH_VALUE } from '../../../src/sip/push-parameters.ts';

describe('push parameters (RFC 8599 §4.1)', () => {
  it('reads pn-provider, pn-prid and pn-param from the Contact URI, percent-decoded', () => {
    assert.deepEqual(pushParametersOf('sip:tv@192.0.2.1:5060;transport=tcp;pn-provider=apns;pn-prid=ab%3Acd;pn-param=ACME.org.voip'),
      { provider: 'apns', prid: 'ab:cd', param: 'ACME.org.voip' });
    assert.deepEqual(pushParametersOf('sip:tv@192.0.2.1;PN-Provider=tvphone;pn-prid=x'), { provider: 'tvphone', prid: 'x', param: null });
  });

  it('needs both pn-provider and pn-prid: either alone is no push registration', () => {
    assert.equal(pushParametersOf('sip:tv@192.0.2.1;pn-provider=apns'), null);
    assert.equal(pushParametersOf('sip:tv@192.0.2.1;pn-prid=abc'), null);
    assert.equal(pushParametersOf('sip:tv@192.0.2.1'), null);
  });

  it('treats empty, valueless, overlong or badly escaped values, and non-URIs, as none (never throws)', () => {
    assert.equal(pushParametersOf('sip:tv@192.0.2.1;pn-provider=;pn-prid=abc'), null);
    assert.equal(pushParametersOf('sip:tv@192.0.2.1;pn-provider;pn-prid=abc'), null);
    assert.equal(pushParametersOf(`sip:tv@192.0.2.1;pn-provider=a;pn-prid=${'x'.repeat(MAX_PUSH_VALUE + 1)}`), null);
    assert.equal(pushParametersOf('sip:tv@192.0.2.1;pn-provider=a;pn-prid=%zz'), null);
    assert.equal(pushParametersOf('sip:tv@192.0.2.1;pn-provider=a;pn-prid=b;pn-param=%'), null);
    assert.equal(pushParametersOf(`sip:tv@192.0.2.1;pn-provider=${'p'.repeat(MAX_PROVIDER + 1)};pn-prid=b`), null);
    assert.equal(pushParametersOf('tel:+15551234'), null);
    assert.equal(pushParametersOf('not a uri'), null);
  });
});
