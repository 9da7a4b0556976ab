import assert from 'node:assert/strict';
import { FailureBans, TokenBuckets } from '../../../src/routing/limits.ts';

describe('routing/limits: per-source token buckets and failure bans (issue 16 item 3)', () => {
  it('lets a source send its burst at once, then its rate per second', () => {
    const b = new TokenBuckets({ ratePerSecond: 10, burst: 20 });
    let ok = 0;
    for (let i = 0; i < 50; i++) if (b.take('192.0.2.1', 0)) ok++;
    assert.equal(ok, 20, 'the burst');
    assert.equal(b.take('192.0.2.1', 50), false, 'half a token after 50 ms');
    assert.equal(b.take('192.0.2.1', 100), true, 'one token after 100 ms');
    while (b.take('192.0.2.1', 1000));
    ok = 0;
    for (let t = 1010; t <= 2000; t += 10) if (b.take('192.0.2.1', t)) ok++;
    assert.ok(ok >= 9 && ok <= 11, `about 10 a second, got ${ok}`);
  });

  it('keeps one source\'s bucket apart from another\'s', () => {
    const b = new TokenBuckets({ ratePerSecond: 1, burst: 2 });
    b.take('a', 0);
    b.take('a', 0);
    assert.equal(b.take('a', 0), false);
    assert.equal(b.take('b', 0), true);
  });

  it('tracks at most maxEntries sources, the oldest evicted, and forgets full buckets', () => {
    const b = new TokenBuckets({ ratePerSecond: 1, burst: 5, maxEntries: 100 });
    for (let i = 0; i < 1000; i++) b.take(`10.0.${i >> 8}.${i & 255}`, 0);
    assert.equal(b.size, 100);
    for (let i = 0; i < 100; i++) b.take(`x${i}`, 60_000);
    assert.ok(b.size <= 100);
  });

  it('bans a key at the limit of failures within the window, once, and lifts the ban after banMs', () => {
    const f = new FailureBans({ limit: 3, windowMs: 1000, banMs: 5000 });
    assert.deepEqual(f.fail('k', 0), { failures: 1, banned: false });
    assert.deepEqual(f.fail('k', 100), { failures: 2, banned: false });
    assert.equal(f.bannedUntil('k', 100), null);
    assert.deepEqual(f.fail('k', 200), { failures: 3, banned: true });
    assert.equal(f.bannedUntil('k', 201), 5200);
    assert.equal(f.fail('k', 300).banned, false, 'a ban starts once');
    assert.equal(f.bannedUntil('k', 5200), null, 'lifted');
  });

  it('starts counting again when the window has passed', () => {
    const f = new FailureBans({ limit: 3, windowMs: 1000, banMs: 5000 });
    f.fail('k', 0);
    f.fail('k', 500);
    assert.deepEqual(f.fail('k', 1600), { failures: 1, banned: false });
    assert.equal(f.bannedUntil('k', 1600), null);
  });

  it('never bans with limit 0, and holds at most maxEntries counts and bans', () => {
    const off = new FailureBans({ limit: 0, windowMs: 1000, banMs: 5000 });
    for (let i = 0; i < 100; i++) off.fail('k', i);
    assert.equal(off.bannedUntil('k', 100), null);
    const f = new FailureBans({ limit: 1, windowMs: 1000, banMs: 5000, maxEntries: 50 });
    for (let i = 0; i < 500; i++) f.fail(`k${i}`, 0);
    assert.ok(f.size.banned <= 50 && f.size.counted <= 50, JSON.stringify(f.size));
    assert.notEqual(f.bannedUntil('k499', 1), null, 'the newest kept');
  });

  it('applies new limits on reconfigure; bans already given keep their end', () => {
    const f = new FailureBans({ limit: 2, windowMs: 1000, banMs: 5000 });
    f.fail('a', 0);
    f.fail('a', 0);
    f.reconfigure({ limit: 5, windowMs: 1000, banMs: 100 });
    assert.equal(f.bannedUntil('a', 4000), 5000);
    for (let i = 0; i < 4; i++) assert.equal(f.fail('b', 0).banned, false);
    assert.equal(f.fail('b', 0).banned, true);
    assert.equal(f.bannedUntil('b', 99), 100);
  });
});
