// The registrar and the authenticator against the real SQLite store (in memory): the same rules hold
// when the bindings go through SQL.
import assert from 'node:assert/strict';
import { openStore } from '../../../src/store/open.ts';
import type { BindingChange, Store } from '../../../src/store/store.ts';
import { Registrar } from '../../../src/registrar/registrar.ts';
import { Authenticator } from '../../../src/registrar/authenticate.ts';
import { SipResponse } from '../../../src/sip/message.ts';
import { buildAuthorization, ha1 } from '../../../src/sip/digest.ts';
import { parseAuthParams } from '../../../src/sip/headers.ts';
import { FakeClock } from '../../helpers/fake-location-store.ts';
import { request, save, tcp } from '../../unit/registrar/helpers.ts';

const policy = { defaultExpires: 3600, minExpires: 60, maxExpires: 7200, maxContacts: 10 };

describe('registrar on the SQLite store', () => {
  let store: Store;
  let clock: FakeClock;
  let changes: BindingChange[];
  let registrar: Registrar;

  beforeEach(async () => {
    store = await openStore('sqlite::memory:');
    clock = new FakeClock();
    changes = [];
    registrar = new Registrar({ store, clock, policy, onChange: (c) => changes.push(c) });
  });
  afterEach(async () => {
    await registrar.close();
    await store.close();
  });

  it('saves, refreshes, looks up in q order and de-registers with Contact: *', async () => {
    let res = await save(registrar, request({ contacts: ['<sip:alice@127.0.0.1:5070>;q=0.2', '<sip:alice@127.0.0.1:5071>;q=0.8'], expires: '600', cseq: 1 }), 'alice', tcp());
    assert.equal(res.status, 200);
    assert.deepEqual((await registrar.bindings('alice')).map((b) => b.contact), ['sip:alice@127.0.0.1:5071', 'sip:alice@127.0.0.1:5070']);
    res = await save(registrar, request({ contacts: ['<sip:alice@127.0.0.1:5070>'], expires: '30', cseq: 2 }), 'alice', tcp());
    assert.equal(res.status, 423);
    assert.equal(res.header('min-expires'), '60');
    res = await save(registrar, request({ contacts: ['*'], expires: '0', cseq: 3 }), 'alice', tcp());
    assert.equal(res.status, 200);
    assert.deepEqual(await registrar.bindings('alice'), []);
    assert.deepEqual(changes.map((c) => c.presence.netstate), [1, 0]);
  });

  it('drops a closed connection\'s bindings and expires the rest', async () => {
    await save(registrar, request({ contacts: ['<sip:a@127.0.0.1:1>'], callId: 'a', expires: '60' }), 'alice', tcp(1));
    await save(registrar, request({ contacts: ['<sip:a@127.0.0.1:2>'], callId: 'b', expires: '60' }), 'alice', tcp(2));
    await registrar.connectionClosed(1);
    assert.deepEqual((await registrar.bindings('alice')).map((b) => b.flow.connectionId), [2]);
    clock.advance(61_000);
    const expired = await registrar.expireNow();
    assert.deepEqual(expired.map((c) => [c.userId, c.presence.netstate]), [['alice', 0]]);
  });

  it('authenticates a REGISTER against HA1s kept in the store, then saves it', async () => {
    await store.addUser({ userId: 'alice', realm: 'tvphone', ha1Md5: ha1('MD5', 'alice', 'tvphone', 'pw'), ha1Sha256: ha1('SHA-256', 'alice', 'tvphone', 'pw') }, clock.now());
    const auth = new Authenticator({ store, realm: 'tvphone', clock });
    const req = request({ contacts: ['<sip:alice@127.0.0.1:5070>'] });
    const challenge = await auth.authenticate(req, { proxy: false });
    assert.ok(challenge instanceof SipResponse);
    const sha = challenge.fields('www-authenticate').map((f) => parseAuthParams(f.value).params)[0];
    req.setHeader('Authorization', buildAuthorization({ challenge: sha, user: 'alice', password: 'pw', method: 'REGISTER', uri: req.uri, nc: 1, cnonce: 'abc' }));
    const who = await auth.authenticate(req, { proxy: false });
    assert.deepEqual(who, { userId: 'alice' });
    assert.equal((await save(registrar, req, 'alice', tcp())).status, 200);
  });
});
