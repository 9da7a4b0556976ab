import assert from 'node:assert/strict';
import { planRegistration, type RegistrationPolicy } from '../../../src/registrar/save.ts';
import { SipError } from '../../../src/errors.ts';
import { errorResponse } from '../../../src/sip/response.ts';
import { request, tcp } from './helpers.ts';

const NOW = 1_800_000_000_000;
const base: RegistrationPolicy = { defaultExpires: 3600, minExpires: 60, maxExpires: 7200, maxContacts: 3 };

describe('registrar/save: an expiry below the minimum (RFC 3261 §10.3 step 6)', () => {
  it('belowMinExpires "raise" grants minExpires (as Kamailio): sipsak\'s 15 s becomes 60 s', () => {
    const plan = planRegistration(request({ contacts: ['<sip:alice@127.0.0.1:5070>'], expires: '15' }), 'alice', [], { ...base, belowMinExpires: 'raise' }, tcp(), NOW);
    assert.equal(plan.kind, 'update');
    assert.equal(plan.kind === 'update' && plan.upsert[0].expiresAt, NOW + 60_000);
  });

  it('belowMinExpires "reject" answers 423 with Min-Expires (as Asterisk); so does a policy that does not say', () => {
    for (const policy of [{ ...base, belowMinExpires: 'reject' as const }, base]) {
      const req = request({ contacts: ['<sip:alice@127.0.0.1:5070>'], expires: '15' });
      let thrown: unknown = null;
      try {
        planRegistration(req, 'alice', [], policy, tcp(), NOW);
      } catch (err) {
        thrown = err;
      }
      assert.ok(thrown instanceof SipError, 'refused');
      const res = errorResponse(req, thrown, { retryAfterSeconds: 5 });
      assert.equal(res.status, 423);
      assert.equal(res.header('min-expires'), '60');
    }
  });

  it('never raises a removal (Expires: 0)', () => {
    const plan = planRegistration(request({ contacts: ['<sip:alice@127.0.0.1:5070>'], expires: '0' }), 'alice', [], { ...base, belowMinExpires: 'raise' }, tcp(), NOW);
    assert.equal(plan.kind === 'update' && plan.upsert.length, 0);
  });
});
