import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadProfile, validateProfile, parseListenSpec, DEFAULT_PROFILE } from '../../../src/config/profile.ts';
import { refusal } from '../../helpers/profile-refusal.ts';

describe('sip-profiles', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'tvphone-profile-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function write(name: string, text: string): string {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  }

  it('loads sip-profiles/default.json with no edits: UDP and TCP on 5060, SQLite in ./data, digest auth', () => {
    const p = loadProfile(new URL('../../../sip-profiles/default.json', import.meta.url).pathname);
    assert.deepEqual(p.listeners.map((l) => `${l.transport}:${l.host}:${l.port}`), ['udp:0.0.0.0:5060', 'tcp:0.0.0.0:5060']);
    assert.equal(p.store.url, 'sqlite:./data/tvphone.db');
    assert.equal(p.auth.mode, 'digest');
    assert.deepEqual(p.trunks, []);
    assert.equal(p.registrar.minExpires, 60);
  });

  it('fills defaults for what a profile leaves out', () => {
    const p = validateProfile({ name: 'x' }, 'x.json');
    assert.deepEqual(p.registrar, DEFAULT_PROFILE.registrar);
    assert.deepEqual(p.messages, DEFAULT_PROFILE.messages);
  });

  it('names the file, the field and the reason for a bad port', () => {
    const f = write('bad.json', JSON.stringify({ listeners: [{ transport: 'udp', host: '127.0.0.1', port: 70000 }] }));
    const e = refusal(() => loadProfile(f));
    assert.equal(e.file, f);
    assert.equal(e.field, 'listeners[0].port');
    assert.match(e.message, /bad\.json: listeners\[0\]\.port: must be between 0 and 65535, got 70000/);
  });

  it('refuses JSON that does not parse, naming the file', () => {
    const f = write('broken.json', '{ "listeners": [ }');
    assert.match(refusal(() => loadProfile(f)).message, /broken\.json: \(top level\): not valid JSON/);
  });

  it('refuses an unknown setting instead of ignoring a typo', () => {
    assert.equal(refusal(() => validateProfile({ registrar: { minExpire: 60 } }, 'p.json')).field, 'registrar.minExpire');
  });

  it('refuses a tls listener without certificate', () => {
    assert.equal(refusal(() => validateProfile({ listeners: [{ transport: 'tls', host: '127.0.0.1' }] }, 'p.json')).field, 'listeners[0].cert');
  });

  it('takes ws and wss listeners (RFC 7118): wss needs a certificate and key like tls, path only on WebSocket listeners', () => {
    const p = validateProfile({ listeners: [{ transport: 'ws', host: '0.0.0.0', port: 8080, path: '/sip' }, { transport: 'wss', cert: 'c.pem', key: 'k.pem' }] }, 'p.json');
    assert.deepEqual(p.listeners, [
      { transport: 'ws', host: '0.0.0.0', port: 8080, path: '/sip' },
      { transport: 'wss', host: '0.0.0.0', port: 8443, cert: 'c.pem', key: 'k.pem' },
    ]);
    const noCert = refusal(() => validateProfile({ listeners: [{ transport: 'wss', host: '127.0.0.1' }] }, 'p.json'));
    assert.deepEqual([noCert.file, noCert.field, noCert.reason], ['p.json', 'listeners[0].cert', 'must be a non-empty string']);
    assert.equal(refusal(() => validateProfile({ listeners: [{ transport: 'ws', cert: 'c.pem' }] }, 'p.json')).field, 'listeners[0].cert');
    assert.equal(refusal(() => validateProfile({ listeners: [{ transport: 'tcp', path: '/sip' }] }, 'p.json')).field, 'listeners[0].path');
    assert.match(refusal(() => validateProfile({ listeners: [{ transport: 'ws', path: 'sip' }] }, 'p.json')).reason, /must be an HTTP path starting with \//);
    assert.equal(refusal(() => validateProfile({ listeners: [{ transport: 'tcp', port: 5060 }, { transport: 'ws', port: 5060 }] }, 'p.json')).field, 'listeners[1]');
    assert.equal(refusal(() => validateProfile({ trunks: [{ name: 'c', host: '127.0.0.1', transport: 'ws' }] }, 'p.json')).field, 'trunks[0].transport');
  });

  it('takes retryAfterSeconds (Retry-After of 503 and of 480 to an offline user), default 5, refusing 0 with file, field and reason', () => {
    assert.equal(validateProfile({}, 'p.json').retryAfterSeconds, 5);
    assert.equal(validateProfile({ retryAfterSeconds: 30 }, 'p.json').retryAfterSeconds, 30);
    const e = refusal(() => validateProfile({ retryAfterSeconds: 0 }, 'p.json'));
    assert.equal(e.field, 'retryAfterSeconds');
    assert.match(e.message, /p\.json: retryAfterSeconds: must be between 1 and 86400/);
  });

  it('refuses minExpires above maxExpires', () => {
    assert.equal(refusal(() => validateProfile({ registrar: { minExpires: 9000, maxExpires: 7200 } }, 'p.json')).field, 'registrar.minExpires');
  });

  it('takes store.commitDeadlineMs (SQLite in a worker: a call not answered in time gets 503), default 2000, refusing a bad one with file, field and reason', () => {
    assert.equal(validateProfile({}, 'p.json').store.commitDeadlineMs, 2000);
    assert.equal(validateProfile({ store: { commitDeadlineMs: 500 } }, 'p.json').store.commitDeadlineMs, 500);
    for (const bad of [0, 99, 60_001, 1.5, '2000']) {
      const e = refusal(() => validateProfile({ store: { commitDeadlineMs: bad } }, 'p.json'));
      assert.deepEqual([e.file, e.field], ['p.json', 'store.commitDeadlineMs'], String(bad));
      assert.match(e.reason, /must be/);
    }
  });

  it('takes transport.udpReceiveBufferBytes (SO_RCVBUF of the UDP listeners), default and shipped 4 MiB, 0 the kernel default, refusing a bad one with file, field and reason', () => {
    assert.equal(validateProfile({}, 'p.json').transport.udpReceiveBufferBytes, 4 * 1024 * 1024);
    assert.equal(loadProfile(new URL('../../../sip-profiles/default.json', import.meta.url).pathname).transport.udpReceiveBufferBytes, 4 * 1024 * 1024);
    assert.equal(validateProfile({ transport: { udpReceiveBufferBytes: 0 } }, 'p.json').transport.udpReceiveBufferBytes, 0);
    for (const bad of [-1, 256 * 1024 * 1024 + 1, 1.5, '4M']) {
      const e = refusal(() => validateProfile({ transport: { udpReceiveBufferBytes: bad } }, 'p.json'));
      assert.deepEqual([e.file, e.field], ['p.json', 'transport.udpReceiveBufferBytes'], String(bad));
      assert.match(e.reason, /must be/);
    }
  });

  it('refuses a store URL of an unknown kind', () => {
    assert.match(refusal(() => validateProfile({ store: { url: 'oracle://x' } }, 'p.json')).message, /store\.url: must start with sqlite:/);
  });

  it('refuses a route pattern that is not a regular expression (routes are the profile\'s, no longer a trunk\'s)', () => {
    const e = refusal(() => validateProfile({ trunks: [{ name: 'c', host: '127.0.0.1' }], routes: [{ pattern: '((', trunks: ['c'] }] }, 'p.json'));
    assert.equal(e.field, 'routes[0].pattern');
    const moved = refusal(() => validateProfile({ trunks: [{ name: 'c', host: '127.0.0.1', routes: ['^0'] }] }, 'p.json'));
    assert.deepEqual([moved.field, /moved to the profile's routes/.test(moved.reason)], ['trunks[0].routes', true]);
  });

  it('refuses a trunk source that is not an address or CIDR', () => {
    assert.equal(refusal(() => validateProfile({ trunks: [{ name: 'c', host: '127.0.0.1', allow: ['nope'] }] }, 'p.json')).field, 'trunks[0].allow[0]');
  });

  it('refuses the same listener twice', () => {
    const l = { transport: 'udp', host: '127.0.0.1', port: 5070 };
    assert.match(refusal(() => validateProfile({ listeners: [l, l] }, 'p.json')).message, /listed twice/);
  });

  it('refuses an unknown digest algorithm and an empty list', () => {
    assert.equal(refusal(() => validateProfile({ auth: { algorithms: ['SHA-512'] } }, 'p.json')).field, 'auth.algorithms[0]');
    assert.equal(refusal(() => validateProfile({ auth: { algorithms: [] } }, 'p.json')).field, 'auth.algorithms');
    assert.deepEqual(validateProfile({ auth: { algorithms: ['MD5', 'SHA-256'] } }, 'p.json').auth.algorithms, ['MD5', 'SHA-256']);
  });

  it('takes push settings with defaults (no url: push off), and refuses bad ones naming file, field and reason', () => {
    assert.deepEqual(validateProfile({}, 'p.json').push, DEFAULT_PROFILE.push);
    assert.equal(DEFAULT_PROFILE.push.url, null);
    const push = validateProfile({ push: { url: 'http://127.0.0.1:9000/push', holdSeconds: 5, retries: 0 } }, 'p.json').push;
    assert.deepEqual(push, { ...DEFAULT_PROFILE.push, url: 'http://127.0.0.1:9000/push', holdSeconds: 5, retries: 0 });
    const e1 = refusal(() => validateProfile({ push: { url: 'ftp://gw/' } }, 'p.json'));
    assert.deepEqual([e1.file, e1.field, e1.reason], ['p.json', 'push.url', 'not an http: or https: URL: "ftp://gw/"']);
    assert.equal(refusal(() => validateProfile({ push: { url: 'not a url' } }, 'p.json')).field, 'push.url');
    assert.equal(refusal(() => validateProfile({ push: { holdSeconds: 0 } }, 'p.json')).field, 'push.holdSeconds');
    assert.equal(refusal(() => validateProfile({ push: { retries: 11 } }, 'p.json')).field, 'push.retries');
    assert.equal(refusal(() => validateProfile({ push: { gateway: 'x' } }, 'p.json')).field, 'push.gateway');
  });

  it('takes voicemail settings with defaults (off), and refuses bad ones naming file, field and reason', () => {
    assert.deepEqual(validateProfile({}, 'p.json').voicemail, DEFAULT_PROFILE.voicemail);
    assert.equal(DEFAULT_PROFILE.voicemail.enabled, false);
    const vm = validateProfile({ voicemail: { enabled: true, maxSeconds: 30, silenceSeconds: 0, httpHost: '127.0.0.1', httpPort: 8088 } }, 'p.json').voicemail;
    assert.deepEqual(vm, { ...DEFAULT_PROFILE.voicemail, enabled: true, maxSeconds: 30, silenceSeconds: 0, httpHost: '127.0.0.1', httpPort: 8088 });
    const e1 = refusal(() => validateProfile({ voicemail: { maxSeconds: 0 } }, 'p.json'));
    assert.deepEqual([e1.file, e1.field], ['p.json', 'voicemail.maxSeconds']);
    assert.match(e1.reason, /between 1 and 3600/);
    const e2 = refusal(() => validateProfile({ voicemail: { maxSeconds: 60 }, messages: { quotaBytes: 100_000 } }, 'p.json'));
    assert.deepEqual([e2.field, e2.reason], ['voicemail.maxSeconds', 'a recording of 60 s (960044 bytes) would not fit messages.quotaBytes (100000)']);
    assert.equal(refusal(() => validateProfile({ voicemail: { enabled: 'yes' } }, 'p.json')).field, 'voicemail.enabled');
    assert.equal(refusal(() => validateProfile({ voicemail: { greeting: 'x.wav' } }, 'p.json')).field, 'voicemail.greeting');
    assert.equal(refusal(() => validateProfile({ voicemail: { httpHost: 'a b' } }, 'p.json')).field, 'voicemail.httpHost');
    assert.deepEqual([DEFAULT_PROFILE.voicemail.ringSeconds, DEFAULT_PROFILE.voicemail.onBusy], [30, false]);
    assert.deepEqual(validateProfile({ voicemail: { ringSeconds: 0, onBusy: true } }, 'p.json').voicemail, { ...DEFAULT_PROFILE.voicemail, ringSeconds: 0, onBusy: true });
    const e3 = refusal(() => validateProfile({ voicemail: { ringSeconds: -1 } }, 'p.json'));
    assert.deepEqual([e3.file, e3.field], ['p.json', 'voicemail.ringSeconds']);
    assert.ok(e3.reason.length > 0);
    assert.equal(refusal(() => validateProfile({ voicemail: { ringSeconds: 2.5 } }, 'p.json')).field, 'voicemail.ringSeconds');
    assert.equal(refusal(() => validateProfile({ voicemail: { onBusy: 'yes' } }, 'p.json')).field, 'voicemail.onBusy');
    // the access number: *97 by default and shipped, null for none, digits * # only
    assert.equal(DEFAULT_PROFILE.voicemail.accessNumber, '*97');
    assert.equal(loadProfile(new URL('../../../sip-profiles/default.json', import.meta.url).pathname).voicemail.accessNumber, '*97');
    assert.equal(validateProfile({ voicemail: { accessNumber: null } }, 'p.json').voicemail.accessNumber, null);
    assert.equal(validateProfile({ voicemail: { accessNumber: '#123' } }, 'p.json').voicemail.accessNumber, '#123');
    for (const bad of ['', 'vm', '*97 ', 97, '12345678901234567']) {
      const e = refusal(() => validateProfile({ voicemail: { accessNumber: bad } }, 'p.json'));
      assert.deepEqual([e.file, e.field], ['p.json', 'voicemail.accessNumber'], String(bad));
      assert.match(e.reason, /digits, \* or #/);
    }
  });

  it('takes the security section (issue 16 item 3): defaults on, shipped on, bad values refused naming file, field and reason', () => {
    assert.deepEqual(validateProfile({}, 'p.json').security, DEFAULT_PROFILE.security);
    const shipped = loadProfile(new URL('../../../sip-profiles/default.json', import.meta.url).pathname).security;
    assert.deepEqual(shipped, DEFAULT_PROFILE.security, 'the shipped profile says what the defaults say');
    assert.ok(shipped.authFailures > 0 && shipped.maxRequestsPerSecond > 0, 'on by default');
    const s = validateProfile({ security: { banAction: 'drop', rateAction: 'drop', trusted: ['10.0.0.0/8', '::1'], maxRequestsPerSecond: 0 } }, 'p.json').security;
    assert.deepEqual([s.banAction, s.rateAction, s.trusted, s.maxRequestsPerSecond], ['drop', 'drop', ['10.0.0.0/8', '::1'], 0]);
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ authFailures: -1 }, 'security.authFailures', /between 0 and/],
      [{ banSeconds: 0 }, 'security.banSeconds', /between 1 and/],
      [{ banAction: 'tarpit' }, 'security.banAction', /one of reject, drop/],
      [{ rateAction: 403 }, 'security.rateAction', /one of reject, drop/],
      [{ trusted: ['10.0.0.0/33'] }, 'security.trusted[0]', /not an IP address or CIDR/],
      [{ trusted: '127.0.0.1' }, 'security.trusted', /must be an array/],
      [{ authFailures: 10, userAuthFailures: 5 }, 'security.userAuthFailures', /must not be below authFailures \(10\)/],
      [{ maxRequestsPerSecond: 100, requestBurst: 50 }, 'security.requestBurst', /at least maxRequestsPerSecond \(100\)/],
      [{ maxRequestPerSecond: 100 }, 'security.maxRequestPerSecond', /unknown setting/],
    ];
    for (const [security, field, reason] of cases) {
      const e = refusal(() => validateProfile({ security }, 'p.json'));
      assert.deepEqual([e.file, e.field], ['p.json', field], JSON.stringify(security));
      assert.match(e.reason, reason);
    }
  });

  it('leaves the admin HTTP endpoint off unless admin.listen is set, and reads HOST:PORT', () => {
    assert.equal(validateProfile({}, 'p.json').admin, null);
    assert.deepEqual(validateProfile({ admin: { listen: '127.0.0.1:9060' } }, 'p.json').admin, { listen: '127.0.0.1:9060', host: '127.0.0.1', port: 9060, token: null });
    assert.deepEqual(validateProfile({ admin: { listen: '[::1]:0' } }, 'p.json').admin, { listen: '[::1]:0', host: '::1', port: 0, token: null });
  });

  it('refuses a bad admin.listen or an unknown admin setting, naming file, field and reason', () => {
    const f = write('admin.json', JSON.stringify({ admin: { listen: '127.0.0.1' } }));
    const e = refusal(() => loadProfile(f));
    assert.equal(e.file, f);
    assert.equal(e.field, 'admin.listen');
    assert.match(e.message, /admin\.json: admin\.listen: expected HOST:PORT/);
    assert.match(refusal(() => validateProfile({ admin: { listen: '127.0.0.1:70000' } }, 'p.json')).message, /admin\.listen: must be between 0 and 65535, got 70000/);
    assert.equal(refusal(() => validateProfile({ admin: { listen: '::1:9060' } }, 'p.json')).field, 'admin.listen');
    assert.equal(refusal(() => validateProfile({ admin: { listen: 'bad_host!:9060' } }, 'p.json')).field, 'admin.listen');
    assert.equal(refusal(() => validateProfile({ admin: { listen: '127.0.0.1:9060', port: 1 } }, 'p.json')).field, 'admin.port');
    assert.equal(refusal(() => validateProfile({ admin: '127.0.0.1:9060' }, 'p.json')).field, 'admin');
  });

  it('parses --listen specs with IPv4 and bracketed IPv6 hosts', () => {
    assert.deepEqual(parseListenSpec('udp:127.0.0.1:5060'), { transport: 'udp', host: '127.0.0.1', port: 5060 });
    assert.deepEqual(parseListenSpec('tcp:[::1]:0'), { transport: 'tcp', host: '::1', port: 0 });
    assert.deepEqual(parseListenSpec('ws:127.0.0.1:8080'), { transport: 'ws', host: '127.0.0.1', port: 8080 });
    assert.deepEqual(parseListenSpec('wss:[::1]:8443'), { transport: 'wss', host: '::1', port: 8443 });
    assert.throws(() => parseListenSpec('sctp:1.2.3.4:5060'), /expected TRANSPORT:HOST:PORT/);
    assert.throws(() => parseListenSpec('udp:1.2.3.4:99999'), /above 65535/);
  });
});
