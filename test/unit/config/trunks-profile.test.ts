import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadProfile, validateProfile } from '../../../src/config/profile.ts';
import { refusal } from '../../helpers/profile-refusal.ts';

const base = { name: 'carrier', host: '127.0.0.1', username: 'acct', password: 'pw', register: true };
const inline = (t: Record<string, unknown>, extra: Record<string, unknown> = {}) => validateProfile({ trunks: [{ ...base, ...t }], ...extra }, 'p.json');

describe('sip-profiles: trunks', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'tvphone-trunks-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('fills a trunk\'s defaults: udp 5060, register refreshes, retry 30 s, 403 waits an hour, no ping, caller-ID in From', () => {
    const t = inline({}).trunks[0];
    assert.deepEqual(
      [t.file, t.transport, t.port, t.expires, t.retrySeconds, t.forbiddenRetrySeconds, t.ping, t.callerId, t.maxCalls, t.priority, t.weight],
      ['p.json', 'udp', 5060, 3600, 30, 3600, 0, 'from', 0, 10, 1],
    );
    assert.deepEqual(t.secret, { kind: 'password', password: 'pw', source: 'password' });
    assert.equal(inline({ transport: 'tls', caFile: undefined }, { listeners: [{ transport: 'tls', cert: 'c', key: 'k' }] }).trunks[0].port, 5061);
  });

  for (const [field, value, reason] of [
    ['name', 'a b', /only letters, digits/],
    ['host', 'no host!', /not an IP address or host name/],
    ['port', 0, /between 1 and 65535/],
    ['transport', 'ws', /must be one of udp, tcp, tls/],
    ['expires', 10, /between 60 and 86400/],
    ['retrySeconds', 0, /between 1 and 86400/],
    ['forbiddenRetrySeconds', 5, /must not be shorter than retrySeconds/],
    ['register', 'yes', /true or false/],
    ['callerId', 'pai-and-more', /one of from, pai, privacy/],
    ['ping', 1, /between 5 and 3600/],
    ['maxCalls', -1, /between 0 and 100000/],
    ['priority', 1.5, /integer/],
    ['weight', 2000, /between 0 and 1000/],
    ['codecs', ['PC MA'], /not a codec name/],
    ['allow', ['10.0.0.0/33'], /not an IP address or CIDR/],
    ['dids', [{ user: 'alice' }], /a number or a pattern/],
    ['outboundProxy', 'sip:proxy:99999', /between 1 and 65535/],
    ['caFile', 'ca.pem', /only used by a tls trunk/],
    ['fromUser', 'a b', /not a SIP user part/],
    ['passwordEnv', 'TVPHONE_TEST_SURELY_UNSET', /TVPHONE_TEST_SURELY_UNSET is not set/],
    ['passwordFile', '/nonexistent/secret', /cannot read \/nonexistent\/secret \(ENOENT\)/],
    ['sipPassword', 'x', /unknown setting/],
  ] as const) {
    it(`refuses a bad trunk ${field} with file, field and reason`, () => {
      const t: Record<string, unknown> = { [field]: value };
      if (field.startsWith('password')) t.password = undefined;
      const e = refusal(() => inline(t));
      const exact = field === 'dids' ? 'trunks[0].dids[0]' : field === 'codecs' ? 'trunks[0].codecs[0]' : field === 'allow' ? 'trunks[0].allow[0]' : `trunks[0].${field}`;
      assert.deepEqual([e.file, e.field], ['p.json', exact]);
      assert.match(e.reason, reason);
    });
  }

  it('refuses two secrets, and an HA1 without its realm or of the wrong length', () => {
    assert.match(refusal(() => inline({ passwordEnv: 'X' })).reason, /only one of password, passwordEnv, passwordFile, ha1/);
    assert.equal(refusal(() => inline({ password: undefined, ha1: { md5: 'a'.repeat(32) } })).field, 'trunks[0].realm');
    assert.equal(refusal(() => inline({ password: undefined, realm: 'r', ha1: { md5: 'abc' } })).field, 'trunks[0].ha1.md5');
    const t = inline({ password: undefined, realm: 'carrier.example', ha1: { md5: 'A'.repeat(32), sha256: 'b'.repeat(64) } }).trunks[0];
    assert.deepEqual(t.secret, { kind: 'ha1', md5: 'a'.repeat(32), sha256: 'b'.repeat(64) });
  });

  it('reads the password from the environment variable passwordEnv names (config/ is the only reader of process.env)', () => {
    process.env.TVPHONE_TEST_TRUNK_PW = 'from-env';
    try {
      assert.deepEqual(inline({ password: undefined, passwordEnv: 'TVPHONE_TEST_TRUNK_PW' }).trunks[0].secret, { kind: 'password', password: 'from-env', source: 'passwordEnv' });
    } finally {
      delete process.env.TVPHONE_TEST_TRUNK_PW;
    }
  });

  it('reads the password from the first line of passwordFile', () => {
    const f = join(dir, 'secret');
    writeFileSync(f, 's3cret\n');
    assert.deepEqual(inline({ password: undefined, passwordFile: f }).trunks[0].secret, { kind: 'password', password: 's3cret', source: 'passwordFile' });
    writeFileSync(f, '\n');
    assert.match(refusal(() => inline({ password: undefined, passwordFile: f })).reason, /is empty/);
  });

  it('needs a listener of the trunk\'s transport (our Via and Contact name its port)', () => {
    const e = refusal(() => inline({ transport: 'tls' }));
    assert.deepEqual([e.field, e.reason], ['trunks[0].transport', 'no tls listener in p.json: add one to listeners']);
  });

  it('loads one trunk a file from trunks/ next to the profile; a bad trunk file names its own file', () => {
    const profile = join(dir, 'p.json');
    writeFileSync(profile, JSON.stringify({ trunks: [{ ...base, name: 'inline' }] }));
    mkdirSync(join(dir, 'trunks'));
    writeFileSync(join(dir, 'trunks', 'b.json'), JSON.stringify({ ...base, name: 'b', outboundProxy: '127.0.0.2:5070' }));
    writeFileSync(join(dir, 'trunks', 'a.json'), JSON.stringify({ ...base, name: 'a' }));
    writeFileSync(join(dir, 'trunks', 'README.txt'), 'not a trunk');
    const p = loadProfile(profile);
    assert.deepEqual(p.trunks.map((t) => [t.name, t.file]), [['inline', profile], ['a', join(dir, 'trunks', 'a.json')], ['b', join(dir, 'trunks', 'b.json')]]);
    assert.deepEqual(p.trunks[2].outboundProxy, { host: '127.0.0.2', port: 5070 });

    writeFileSync(join(dir, 'trunks', 'c.json'), JSON.stringify({ ...base, name: 'c', expires: 5 }));
    const e = refusal(() => loadProfile(profile));
    assert.deepEqual([e.file, e.field], [join(dir, 'trunks', 'c.json'), 'expires']);
    writeFileSync(join(dir, 'trunks', 'c.json'), JSON.stringify({ ...base, name: 'a' }));
    const dup = refusal(() => loadProfile(profile));
    assert.deepEqual([dup.file, dup.field], [join(dir, 'trunks', 'c.json'), 'name']);
    assert.match(dup.reason, /already defined in .*a\.json/);
    writeFileSync(join(dir, 'trunks', 'c.json'), '{ nope');
    assert.match(refusal(() => loadProfile(profile)).message, /c\.json: \(top level\): not valid JSON/);
  });

  it('validates dids and the ordered routes (prefix or pattern → trunks, strip, prepend, E.164)', () => {
    const p = inline({ dids: [{ number: '+4930123456', user: 'alice' }, { pattern: '^\\+49301234(\\d\\d)$', user: 'tv$1' }] }, {
      routes: [
        { prefix: '00', trunks: ['carrier'], strip: 2, prepend: '+' },
        { pattern: '^0[1-9]', trunks: ['carrier'], e164: { countryCode: '49' } },
      ],
    });
    assert.equal(p.trunks[0].dids.length, 2);
    assert.deepEqual(p.routes[1], { prefix: undefined, pattern: '^0[1-9]', trunks: ['carrier'], strip: 0, prepend: '', e164: { countryCode: '49' } });
    const r = (route: Record<string, unknown>) => refusal(() => inline({}, { routes: [route] }));
    assert.equal(r({ prefix: '0', trunks: ['nope'] }).field, 'routes[0].trunks[0]');
    assert.equal(r({ prefix: '0', trunks: [] }).field, 'routes[0].trunks');
    assert.equal(r({ prefix: 'x', trunks: ['carrier'] }).field, 'routes[0].prefix');
    assert.equal(r({ prefix: '0', pattern: '^0', trunks: ['carrier'] }).field, 'routes[0]');
    assert.equal(r({ prefix: '0', trunks: ['carrier'], e164: { countryCode: '0049' } }).field, 'routes[0].e164.countryCode');
    assert.equal(r({ prefix: '0', trunks: ['carrier'], strip: 99 }).field, 'routes[0].strip');
  });
});
