import assert from 'node:assert/strict';
import { Registrar } from '../../../src/registrar/registrar.ts';
import type { PushRegistration, PushStore } from '../../../src/store/store.ts';
import { FakeClock, FakeStore } from '../../helpers/fake-location-store.ts';
import { request, save, tcp } from './helpers.ts';

const policy = { defaultExpires: 3600, minExpires: 60, maxExpires: 7200, maxContacts: 3 };

class MemoryPushStore implements PushStore {
  rows = new Map<string, PushRegistration>();
  async savePushRegistration(r: PushRegistration): Promise<void> { this.rows.set(`${r.userId} ${r.device}`, { ...r }); }
  async removePushRegistration(userId: string, device: string): Promise<void> { this.rows.delete(`${userId} ${device}`); }
  async pushRegistrations(userId: string, now: number): Promise<PushRegistration[]> {
    return [...this.rows.values()].filter((r) => r.userId === userId && r.expiresAt > now).sort((a, b) => b.updatedAt - a.updatedAt);
  }
  async expirePushRegistrations(now: number): Promise<number> {
    let n = 0;
    for (const [k, r] of this.rows) if (r.expiresAt <= now) { this.rows.delete(k); n++; }
    return n;
  }
}

const PN = '<sip:tv@127.0.0.1:5070;transport=tcp;pn-provider=tvphone;pn-prid=tv-1>';

describe('registrar: push registrations (RFC 8599)', () => {
  let clock: FakeClock;
  let store: FakeStore;
  let push: MemoryPushStore;
  let registrar: Registrar;
  beforeEach(() => {
    clock = new FakeClock();
    store = new FakeStore();
    push = new MemoryPushStore();
    void store.addUser({ userId: 'alice', realm: 'r', ha1Md5: '', ha1Sha256: '' }, 0);
    registrar = new Registrar({ store: store.asStore(), clock, policy, push: { store: push, standbySeconds: 600 } });
  });
  afterEach(() => registrar.close());

  it('keeps the push parameters of a binding, expiring standbySeconds after it', async () => {
    assert.equal((await save(registrar, request({ contacts: [PN], expires: '60' }), 'alice', tcp())).status, 200);
    const [reg] = await registrar.pushRegistrations('alice');
    assert.deepEqual({ ...reg, contact: undefined }, {
      userId: 'alice', device: 'tvphone:tv-1', provider: 'tvphone', prid: 'tv-1', param: null, contact: undefined,
      expiresAt: clock.now() + 60_000 + 600_000, updatedAt: clock.now(),
    });
    assert.match(reg.contact, /pn-prid=tv-1/);
  });

  it('keeps it after the binding expires and after its connection closes (standby), until its own expiry', async () => {
    await save(registrar, request({ contacts: [PN], expires: '60' }), 'alice', tcp(7));
    await registrar.connectionClosed(7);
    assert.equal((await registrar.lookup('alice')).kind, 'offline');
    assert.equal((await registrar.pushRegistrations('alice')).length, 1);
    clock.advance(61_000);
    await registrar.expireNow();
    assert.equal((await registrar.pushRegistrations('alice')).length, 1);
    clock.advance(600_000);
    await registrar.expireNow();
    assert.deepEqual(await registrar.pushRegistrations('alice'), []);
    assert.equal(push.rows.size, 0, 'the expired row is deleted');
  });

  it('one row per device: a refresh with a new prid replaces it (keyed by +sip.instance)', async () => {
    const inst = ';+sip.instance="<urn:uuid:00000000-0000-0000-0000-000000000009>"';
    await save(registrar, request({ contacts: [PN + inst], cseq: 1 }), 'alice', tcp());
    await save(registrar, request({ contacts: [PN.replace('tv-1', 'tv-2') + inst], cseq: 2 }), 'alice', tcp());
    const regs = await registrar.pushRegistrations('alice');
    assert.deepEqual(regs.map((r) => [r.device, r.prid]), [['<urn:uuid:00000000-0000-0000-0000-000000000009>', 'tv-2']]);
  });

  it('keys a device without +sip.instance by provider and prid, a long prid by its SHA-256 (a short key in every dialect)', async () => {
    const long = 'x'.repeat(240);
    await save(registrar, request({ contacts: [PN.replace('tv-1', long)] }), 'alice', tcp());
    const [reg] = await registrar.pushRegistrations('alice');
    assert.match(reg.device, /^tvphone:sha256:[0-9a-f]{64}$/);
    assert.equal(reg.prid, long);
  });

  it('an explicit de-registration (expires=0) removes it; a Contact without pn-prid makes none', async () => {
    await save(registrar, request({ contacts: [PN], cseq: 1 }), 'alice', tcp());
    await save(registrar, request({ contacts: [PN], expires: '0', cseq: 2 }), 'alice', tcp());
    assert.deepEqual(await registrar.pushRegistrations('alice'), []);
    await save(registrar, request({ contacts: ['<sip:tv@127.0.0.1:5070;pn-provider=tvphone>'], cseq: 3 }), 'alice', tcp());
    assert.deepEqual(await registrar.pushRegistrations('alice'), []);
  });
});
