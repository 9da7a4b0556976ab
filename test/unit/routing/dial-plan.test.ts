import assert from 'node:assert/strict';
import { asNumber, chooseRoute, failsOver, rewrite } from '../../../src/routing/dial-plan.ts';
import type { RouteConfig } from '../../../src/config/profile.ts';

const route = (r: Partial<RouteConfig>): RouteConfig => ({ trunks: ['t'], strip: 0, prepend: '', e164: null, ...r });

describe('routing/dial-plan (Kamailio dialplan + drouting)', () => {
  it('reads a number out of a user part without RFC 3966 visual separators, and nothing else as one', () => {
    assert.equal(asNumber('+49 (30) 123-45.67'), '+49301234567');
    assert.equal(asNumber('*97'), '*97');
    assert.equal(asNumber('alice'), null);
    assert.equal(asNumber('12a'), null);
    assert.equal(asNumber(''), null);
  });

  it('takes the first route whose prefix or whole-number pattern matches, in profile order; one with neither takes all', () => {
    const routes = [route({ prefix: '110', trunks: ['police'] }), route({ pattern: '0[1-9]\\d+', trunks: ['national'] }), route({ trunks: ['default'] })];
    assert.deepEqual(chooseRoute(routes, '110')?.route.trunks, ['police']);
    assert.deepEqual(chooseRoute(routes, '030123')?.route.trunks, ['national']);
    assert.deepEqual(chooseRoute(routes, '0030123')?.route.trunks, ['default'], 'a pattern must match the whole number');
    assert.equal(chooseRoute(routes.slice(0, 2), '999'), null);
  });

  it('strips, prepends, then normalises to E.164: national 0… gets the country code, international 00… becomes +', () => {
    const e164 = { countryCode: '49' };
    assert.equal(rewrite(route({ e164 }), '030123456'), '+4930123456');
    assert.equal(rewrite(route({ e164 }), '0044207946'), '+44207946');
    assert.equal(rewrite(route({ e164 }), '+4930123'), '+4930123');
    assert.equal(rewrite(route({ strip: 1, e164 }), '9030123'), '+4930123', 'an outside-line 9 stripped first');
    assert.equal(rewrite(route({ strip: 2, prepend: '0' }), '**30123'), '030123');
    assert.equal(rewrite(route({ e164 }), '110'), '110', 'a short number without a trunk prefix stays as dialled');
  });

  it('fails over on 408 and 5xx only; busy, other 4xx and 6xx answers stand', () => {
    assert.deepEqual([408, 500, 503, 504, 480, 486, 404, 403, 600, 603].map(failsOver), [true, true, true, true, false, false, false, false, false, false]);
  });
});
