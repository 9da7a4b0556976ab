import assert from 'node:assert/strict';
import { effectiveMaxConnections, FD_RESERVE, fdLimitWarning, openFileLimit } from '../../../src/config/fd-limit.ts';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 524288               files
`;

describe('config/fd-limit: the open-file limit against transport.maxConnections', () => {
  it('reads the soft limit of /proc/self/limits, and this process\'s own', () => {
    assert.equal(openFileLimit(LIMITS), 1024);
    assert.equal(openFileLimit(LIMITS.replace('1024  ', 'unlimited')), null);
    assert.equal(openFileLimit('nothing here'), null);
    const own = openFileLimit();
    assert.ok(own === null || own > 0);
  });

  it('warns when maxConnections and the reserve do not fit, naming both ways out', () => {
    assert.equal(fdLimitWarning(1024 - FD_RESERVE, 1024), null);
    assert.equal(fdLimitWarning(10_000, null), null);
    const w = fdLimitWarning(10_000, 1024) ?? '';
    assert.match(w, /maxConnections is 10000 .* only 1024 files/);
    assert.match(w, new RegExp(`at least ${10_000 + FD_RESERVE}`));
    assert.match(w, new RegExp(`lower maxConnections to ${1024 - FD_RESERVE}`));
  });

  it('serves no more connections than the limit leaves after the reserve, and says so in the warning', () => {
    assert.equal(effectiveMaxConnections(100_000, 20_000), 20_000 - FD_RESERVE);
    assert.equal(effectiveMaxConnections(100_000, 131_072), 100_000);
    assert.equal(effectiveMaxConnections(100_000, null), 100_000, 'an unknown limit: as configured');
    assert.equal(effectiveMaxConnections(100, 64), 1, 'never none');
    assert.match(fdLimitWarning(100_000, 20_000) ?? '', new RegExp(`serving at most ${20_000 - FD_RESERVE} connections`));
  });
});
