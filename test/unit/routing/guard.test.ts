import assert from 'node:assert/strict';
import { Guard } from '../../../src/routing/guard.ts';
import { DEFAULT_PROFILE, type SecurityConfig } from '../../../src/config/profile.ts';
import { createLogger } from '../../../src/log/logger.ts';
import { FakeClock } from '../../../src/clock.ts';
import { readFileSync } from 'node:fs';

/** The failregex lines of the shipped fail2ban filter, <HOST> as a named group. */
function fail2banRegexes(): RegExp[] {
  const conf = readFileSync(new URL('../../../contrib/fail2ban/filter.d/tvphone.conf', import.meta.url), 'utf8');
  const block = /^failregex = ([^\n]*(?:\n[ \t]+[^\n]+)*)/m.exec(conf)![1]!;
  return block.split('\n').map((l) => new RegExp(l.trim().replace('<HOST>', '(?<host>[^"]+)')));
}

function guard(over: Partial<SecurityConfig> = {}) {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger('warn', { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
  const clock = new FakeClock(1_000_000);
  const g = new Guard({ config: { ...DEFAULT_PROFILE.security, ...over }, clock, log });
  return { g, clock, lines };
}

describe('routing/guard: pike and htable bans for the routing script (issue 16 item 3)', () => {
  it('tells onBan of each ban it starts (source and user, with the end), and applies a ban read from the database once', () => {
    const told: Array<[string, string, number]> = [];
    const lines: Array<Record<string, unknown>> = [];
    const clock = new FakeClock(1_000_000);
    const g = new Guard({
      config: { ...DEFAULT_PROFILE.security, authFailures: 2, userAuthFailures: 2, banSeconds: 60 }, clock,
      log: createLogger('info', { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) }), onBan: (k, key, until) => told.push([k, key, until]),
    });
    g.authFailed('1001', '192.0.2.9');
    g.authFailed('1001', '192.0.2.9');
    assert.deepEqual(told, [['source', '192.0.2.9', 1_060_000], ['user', '1001', 1_060_000]]);
    assert.equal(g.importBan('source', '192.0.2.9', 1_060_000, 'node-b'), false, 'the same ban again changes nothing');
    assert.equal(g.importBan('source', '198.51.100.1', 1_030_000, 'node-b'), true);
    assert.equal(g.importBan('source', '198.51.100.2', 999_000, 'node-b'), false, 'an ended ban is not applied');
    assert.equal(g.admit('198.51.100.1'), 'banned');
    assert.equal(g.importBan('user', '1002', 1_030_000, 'node-b'), true);
    assert.equal(g.userBanned('1002', '203.0.113.5'), true);
    assert.deepEqual(lines.filter((l) => l.node === 'node-b').map((l) => [l.level, l.msg]),
      [[30, 'source banned by node node-b'], [30, 'user authentication banned by node node-b']]);
    assert.equal(told.length, 2, 'an imported ban is not told again');
    clock.time += 30_000;
    assert.equal(g.admit('198.51.100.1'), 'ok', 'it ends when the node that gave it said');
  });

  it('bans a source after authFailures refused credentials, logs the ban once at warn, and lifts it after banSeconds', () => {
    const { g, clock, lines } = guard({ authFailures: 3, banSeconds: 60 });
    g.authFailed('1001', '192.0.2.9');
    g.authFailed('1002', '192.0.2.9');
    assert.equal(g.admit('192.0.2.9'), 'ok');
    g.authFailed('1003', '192.0.2.9');
    assert.equal(g.admit('192.0.2.9'), 'banned');
    assert.equal(g.admit('192.0.2.10'), 'ok', 'another source is served');
    g.authFailed('1004', '192.0.2.9');
    assert.deepEqual(lines.map((l) => [l.level, l.msg, l.ip, l.failures, l.banSeconds]), [[40, 'source banned', '192.0.2.9', 3, 60]]);
    // the stable line the shipped fail2ban filter matches too (contrib/fail2ban/filter.d/tvphone.conf)
    const hosts = fail2banRegexes().map((re) => re.exec(JSON.stringify(lines[0]))?.groups?.host);
    assert.deepEqual(hosts.filter((h) => h !== undefined), ['192.0.2.9']);
    clock.time += 60_000;
    assert.equal(g.admit('192.0.2.9'), 'ok');
  });

  it('backs off before the ban: no delay for the first half of authFailures, then 250 ms doubling, none once banned', () => {
    const { g } = guard({ authFailures: 10 });
    const delays = Array.from({ length: 11 }, (_, i) => g.authFailed(`u${i}`, '192.0.2.3'));
    assert.deepEqual(delays, [0, 0, 0, 0, 0, 250, 500, 1000, 2000, 0, 0]);
    const capped = guard({ authFailures: 40, userAuthFailures: 100 }).g;
    assert.equal(Math.max(...Array.from({ length: 39 }, () => capped.authFailed('u', '192.0.2.4'))), 4000);
  });

  it('bans a user\'s authentication after userAuthFailures from anywhere', () => {
    const { g, lines } = guard({ authFailures: 100, userAuthFailures: 5 });
    g.authSucceeded('1001', '192.0.2.50'); // the user's own TV
    for (let i = 0; i < 4; i++) g.authFailed('1001', `198.51.100.${i}`);
    assert.equal(g.userBanned('1001', '198.51.100.1'), false);
    g.authFailed('1001', '198.51.100.77');
    assert.equal(g.userBanned('1001', '198.51.100.1'), true);
    assert.equal(g.userBanned('1001', '203.0.113.1'), true, 'from an address never seen');
    assert.equal(g.userBanned('1001', '192.0.2.50'), false, 'the address that has authenticated as 1001 is not locked out');
    assert.equal(g.userBanned('1002', '198.51.100.1'), false);
    assert.equal(g.admit('198.51.100.77'), 'ok', 'no source reached its own limit');
    assert.deepEqual(lines.map((l) => [l.msg, l.user]), [['user authentication banned', '1001']]);
  });

  it('limits a source to its burst then maxRequestsPerSecond, logging it once a minute at most', () => {
    const { g, clock, lines } = guard({ maxRequestsPerSecond: 10, requestBurst: 20 });
    const verdicts = Array.from({ length: 30 }, () => g.admit('203.0.113.5'));
    assert.equal(verdicts.filter((v) => v === 'ok').length, 20);
    assert.equal(verdicts.at(-1), 'limited');
    assert.equal(g.admit('203.0.113.6'), 'ok');
    assert.deepEqual(lines.map((l) => [l.msg, l.ip]), [['source over its request rate', '203.0.113.5']]);
    clock.time += 1000;
    assert.equal(g.admit('203.0.113.5'), 'ok');
    // hovering around the rate for 50 s: still the one line
    for (let i = 0; i < 5000; i++, clock.time += 10) g.admit('203.0.113.5');
    assert.equal(lines.length, 1);
    clock.time += 10_000;
    for (let i = 0; i < 30; i++) g.admit('203.0.113.5');
    assert.equal(lines.length, 2, 'again after a minute');
  });

  it('takes an IPv4-mapped IPv6 address (a dual-stack listener) as the IPv4 address: one key, trusted by its IPv4 CIDR', () => {
    const { g } = guard({ authFailures: 2, trusted: ['10.0.0.0/8'] });
    g.authFailed('u', '::ffff:192.0.2.1');
    g.authFailed('u', '192.0.2.1');
    assert.equal(g.admit('::ffff:192.0.2.1'), 'banned');
    assert.equal(g.admit('192.0.2.1'), 'banned');
    assert.equal(g.trusted('::ffff:10.9.9.9'), true);
  });

  it('does not limit with maxRequestsPerSecond 0, and names security.trusted addresses (CIDRs)', () => {
    const { g } = guard({ maxRequestsPerSecond: 0, trusted: ['10.1.0.0/16', '2001:db8::1'] });
    for (let i = 0; i < 10_000; i++) assert.equal(g.admit('192.0.2.1'), 'ok');
    assert.equal(g.trusted('10.1.200.3'), true);
    assert.equal(g.trusted('10.2.0.1'), false);
    assert.equal(g.trusted('2001:db8::1'), true);
    assert.equal(g.trusted('not an address'), false);
  });

  it('applies a reloaded section: new limits and trusted list, bans given stay', () => {
    const { g } = guard({ authFailures: 2 });
    g.authFailed('u', '192.0.2.1');
    g.authFailed('u', '192.0.2.1');
    g.reconfigure({ ...DEFAULT_PROFILE.security, authFailures: 50, trusted: ['192.0.2.0/24'] });
    assert.equal(g.admit('192.0.2.1'), 'banned');
    assert.equal(g.trusted('192.0.2.1'), true);
    assert.equal(g.config.authFailures, 50);
  });
});
