import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Registrar } from '../../../src/registrar/registrar.ts';
import type { BindingChange } from '../../../src/store/store.ts';
import { FakeClock, FakeStore } from '../../helpers/fake-location-store.ts';
import { request, save, tcp } from './helpers.ts';

const policy = { defaultExpires: 3600, minExpires: 60, maxExpires: 7200, maxContacts: 3 };

describe('registrar (RFC 3261 §10.3)', () => {
  let store: FakeStore;
  let clock: FakeClock;
  let changes: BindingChange[];
  let registrar: Registrar;

  beforeEach(() => {
    store = new FakeStore();
    clock = new FakeClock();
    changes = [];
    registrar = new Registrar({ store: store.asStore(), clock, policy, onChange: (c) => changes.push(c) });
  });
  afterEach(() => registrar.close());

  const contactsOf = (res: { headerValues(n: string): string[] }) => res.headerValues('contact');

  describe('Contact: * (step 6)', () => {
    it('answers a Contact: * with Expires other than 0 with 400', async () => {
      const res = await save(registrar, request({ contacts: ['*'], expires: '60' }), 'alice', tcp());
      assert.equal(res.status, 400);
      const res2 = await save(registrar, request({ contacts: ['*'] }), 'alice', tcp());
      assert.equal(res2.status, 400);
      assert.equal(store.saves, 0);
    });

    it('answers a Contact: * together with another Contact with 400', async () => {
      const res = await save(registrar, request({ contacts: ['*', '<sip:alice@127.0.0.1:5070>'], expires: '0' }), 'alice', tcp());
      assert.equal(res.status, 400);
    });

    it('removes every binding on Contact: * with Expires: 0', async () => {
      await save(registrar, request({ contacts: ['<sip:alice@127.0.0.1:5070>', '<sip:alice@127.0.0.1:5071>'], cseq: 1 }), 'alice', tcp());
      assert.equal((await registrar.bindings('alice')).length, 2);
      const res = await save(registrar, request({ contacts: ['*'], expires: '0', cseq: 2 }), 'alice', tcp());
      assert.equal(res.status, 200);
      assert.deepEqual(contactsOf(res), []);
      assert.deepEqual(await registrar.bindings('alice'), []);
    });
  });

  describe('expiry (step 6)', () => {
    it('answers a non-zero expiry below the minimum with 423 carrying Min-Expires', async () => {
      const res = await save(registrar, request({ contacts: ['<sip:alice@127.0.0.1:5070>'], expires: '30' }), 'alice', tcp());
      assert.equal(res.status, 423);
      assert.equal(res.reason, 'Interval Too Brief');
      assert.equal(res.header('min-expires'), '60');
      assert.equal(store.saves, 0);
    });

    it('shortens an expiry above the maximum to the maximum', async () => {
      const res = await save(registrar, request({ contacts: ['<sip:alice@127.0.0.1:5070>'], expires: '100000' }), 'alice', tcp());
      assert.equal(res.status, 200);
      assert.deepEqual(contactsOf(res), ['<sip:alice@127.0.0.1:5070>;expires=7200']);
      assert.equal((await registrar.bindings('alice'))[0].expiresAt, clock.now() + 7200_000);
    });

    it('takes the Contact expires parameter over the Expires header', async () => {
      const res = await save(registrar, request({ contacts: ['<sip:alice@127.0.0.1:5070>;expires=120'], expires: '600' }), 'alice', tcp());
      assert.deepEqual(contactsOf(res), ['<sip:alice@127.0.0.1:5070>;expires=120']);
    });

    it('takes the Expires header when the Contact has no expires parameter', async () => {
      const res = await save(registrar, request({ contacts: ['<sip:alice@127.0.0.1:5070>'], expires: '600' }), 'alice', tcp());
      assert.deepEqual(contactsOf(res), ['<sip:alice@127.0.0.1:5070>;expires=600']);
    });

    it('grants the default expiry when neither the Contact nor the request names one', async () => {
      const res = await save(registrar, request({ contacts: ['<sip:alice@127.0.0.1:5070>'] }), 'alice', tcp());
      assert.deepEqual(contactsOf(res), ['<sip:alice@127.0.0.1:5070>;expires=3600']);
    });

    it('removes a binding registered again with expires 0', async () => {
      await save(registrar, request({ contacts: ['<sip:alice@127.0.0.1:5070>', '<sip:alice@127.0.0.1:5071>'], cseq: 1 }), 'alice', tcp());
      const res = await save(registrar, request({ contacts: ['<sip:alice@127.0.0.1:5070>;expires=0'], cseq: 2 }), 'alice', tcp());
      assert.deepEqual(contactsOf(res), ['<sip:alice@127.0.0.1:5071>;expires=3600']);
    });
  });

  describe('Call-ID and CSeq (step 7)', () => {
    it('fails an update with the same Call-ID and a CSeq not higher than the binding (400), changing nothing', async () => {
      await save(registrar, request({ contacts: ['<sip:alice@127.0.0.1:5070>'], expires: '600', cseq: 5 }), 'alice', tcp());
      const same = await save(registrar, request({ contacts: ['<sip:alice@127.0.0.1:5070>'], expires: '0', cseq: 5 }), 'alice', tcp());
      assert.equal(same.status, 400);
      assert.match(same.reason, /CSeq/);
      const lower = await save(registrar, request({ contacts: ['<sip:alice@127.0.0.1:5070>'], expires: '0', cseq: 4 }), 'alice', tcp());
      assert.equal(lower.status, 400);
      const wildcard = await save(registrar, request({ contacts: ['*'], expires: '0', cseq: 5 }), 'alice', tcp());
      assert.equal(wildcard.status, 400, 'a wildcard removal with a CSeq not higher fails too (step 6)');
      const [b] = await registrar.bindings('alice');
      assert.equal(b.cseq, 5);
      assert.equal(b.expiresAt, clock.now() + 600_000);
    });

    it('updates a binding from the same Call-ID with a higher CSeq', async () => {
      await save(registrar, request({ contacts: ['<sip:alice@127.0.0.1:5070>'], expires: '600', cseq: 5 }), 'alice', tcp());
      clock.advance(10_000);
      await save(registrar, request({ contacts: ['<sip:alice@127.0.0.1:5070>'], expires: '900', cseq: 6 }), 'alice', tcp());
      const [b] = await registrar.bindings('alice');
      assert.equal(b.cseq, 6);
      assert.equal(b.expiresAt, clock.now() + 900_000);
    });

    it('replaces a binding registered from a different Call-ID whatever its CSeq', async () => {
      await save(registrar, request({ contacts: ['<sip:alice@127.0.0.1:5070>'], callId: 'a', cseq: 50 }), 'alice', tcp());
      await save(registrar, request({ contacts: ['<sip:alice@127.0.0.1:5070>'], callId: 'b', cseq: 1 }), 'alice', tcp());
      const list = await registrar.bindings('alice');
      assert.equal(list.length, 1);
      assert.equal(list[0].callId, 'b');
      assert.equal(list[0].cseq, 1);
    });

    it('matches an existing binding by URI equality, not by text (RFC 3261 §19.1.4)', async () => {
      await save(registrar, request({ contacts: ['<sip:alice@127.0.0.1:5070;transport=tcp>'], cseq: 1 }), 'alice', tcp());
      await save(registrar, request({ contacts: ['<sip:alice@127.0.0.1:5070;TRANSPORT=TCP>'], cseq: 2 }), 'alice', tcp());
      assert.equal((await registrar.bindings('alice')).length, 1);
    });
  });

  describe('query and the 200 OK (step 8)', () => {
    it('answers a REGISTER without Contact with the current bindings and changes nothing', async () => {
      await save(registrar, request({ contacts: ['<sip:alice@127.0.0.1:5070>'], expires: '600' }), 'alice', tcp());
      clock.advance(100_000);
      const saves = store.saves;
      const res = await save(registrar, request({ cseq: 2 }), 'alice', tcp());
      assert.equal(res.status, 200);
      assert.deepEqual(contactsOf(res), ['<sip:alice@127.0.0.1:5070>;expires=500']);
      assert.equal(store.saves, saves);
    });

    it('lists every current binding with its expires parameter, and a Date', async () => {
      await save(registrar, request({ contacts: ['<sip:alice@127.0.0.1:5070>'], expires: '600', callId: 'x' }), 'alice', tcp());
      const res = await save(registrar, request({ contacts: ['<sip:alice@127.0.0.1:5071>;q=0.5'], expires: '300', callId: 'y' }), 'alice', tcp());
      assert.deepEqual(contactsOf(res), ['<sip:alice@127.0.0.1:5070>;expires=600', '<sip:alice@127.0.0.1:5071>;expires=300;q=0.5']);
      assert.equal(res.header('date'), new Date(clock.now()).toUTCString());
      assert.match(res.header('to') ?? '', /;tag=/);
    });

    it('answers only after the store committed the bindings', async () => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const inner = store.saveBindings.bind(store);
      store.saveBindings = async (...args) => {
        await gate;
        return inner(...args);
      };
      let answered = false;
      const p = save(registrar, request({ contacts: ['<sip:alice@127.0.0.1:5070>'] }), 'alice', tcp()).then((r) => ((answered = true), r));
      await new Promise((r) => setImmediate(r));
      assert.equal(answered, false);
      release();
      assert.equal((await p).status, 200);
    });
  });

  describe('one round trip: the store checks the premise of the plan', () => {
    it('saves a first REGISTER without reading the bindings first', async () => {
      let reads = 0;
      const inner = store.getBindings.bind(store);
      store.getBindings = async (...args) => { reads++; return inner(...args); };
      const res = await save(registrar, request({ contacts: ['<sip:alice@127.0.0.1:5070>'] }), 'alice', tcp());
      assert.equal(res.status, 200);
      assert.equal(reads, 0);
      assert.equal(store.saves, 1);
    });

    it('plans a refresh again from the bindings the store answers, and keeps the CSeq rule of step 7', async () => {
      await save(registrar, request({ contacts: ['<sip:alice@127.0.0.1:5070>'], cseq: 5 }), 'alice', tcp());
      // the same Call-ID with a CSeq not higher: refused once the store said there is a binding
      const old = await save(registrar, request({ contacts: ['<sip:alice@127.0.0.1:5070>'], cseq: 5, expires: '600' }), 'alice', tcp());
      assert.equal(old.status, 400);
      assert.equal((await registrar.bindings('alice'))[0]!.cseq, 5);
      store.saves = 0;
      const res = await save(registrar, request({ contacts: ['<sip:alice@127.0.0.1:5070>'], cseq: 6, expires: '600' }), 'alice', tcp());
      assert.equal(res.status, 200);
      assert.deepEqual(contactsOf(res), ['<sip:alice@127.0.0.1:5070>;expires=600']);
      assert.equal(store.saves, 2, 'a stale answer, then the write');
      assert.equal(changes.at(-1)!.bindings[0]!.cseq, 6);
    });

    it('writes the plan made from the stale answer unchecked, as a read then a write would', async () => {
      const expects: Array<readonly unknown[] | undefined> = [];
      const inner = store.saveBindings.bind(store);
      store.saveBindings = async (userId, upsert, remove, removeAll, now, newUser, expect) => {
        expects.push(expect);
        if (expect !== undefined) {
          // another node adds a binding of its own just before the checked write
          await inner(userId, [{ ...upsert[0]!, contact: `sip:other@192.0.2.1:${expects.length}`, callId: `o${expects.length}` }], [], false, now);
        }
        return inner(userId, upsert, remove, removeAll, now, newUser, expect);
      };
      const res = await save(registrar, request({ contacts: ['<sip:alice@127.0.0.1:5070>'] }), 'alice', tcp());
      assert.equal(res.status, 200);
      assert.equal(expects.length, 2);
      assert.deepEqual(expects.map((e) => e?.length), [0, undefined]);
      assert.equal(contactsOf(res).length, 2);
    });
  });

  describe('q-values and lookup', () => {
    it('orders lookup by q descending, then the most recently refreshed', async () => {
      await save(registrar, request({ contacts: ['<sip:a@127.0.0.1:1>;q=0.5'], callId: 'a' }), 'alice', tcp());
      clock.advance(1000);
      await save(registrar, request({ contacts: ['<sip:b@127.0.0.1:2>;q=0.9'], callId: 'b' }), 'alice', tcp());
      clock.advance(1000);
      await save(registrar, request({ contacts: ['<sip:c@127.0.0.1:3>;q=0.5'], callId: 'c' }), 'alice', tcp());
      assert.deepEqual((await registrar.bindings('alice')).map((b) => b.contact), ['sip:b@127.0.0.1:2', 'sip:c@127.0.0.1:3', 'sip:a@127.0.0.1:1']);
    });

    it('answers a malformed q-value with 400', async () => {
      const res = await save(registrar, request({ contacts: ['<sip:a@127.0.0.1:1>;q=1.5'] }), 'alice', tcp());
      assert.equal(res.status, 400);
    });

    it('does not return expired bindings from lookup', async () => {
      await save(registrar, request({ contacts: ['<sip:a@127.0.0.1:1>'], expires: '60' }), 'alice', tcp());
      clock.advance(60_000);
      assert.deepEqual(await registrar.bindings('alice'), []);
    });
  });

  describe('RFC 5626 instance and reg-id', () => {
    it('replaces the binding with the same +sip.instance and reg-id', async () => {
      const inst = '"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"';
      await save(registrar, request({ contacts: [`<sip:alice@127.0.0.1:5070;transport=tcp>;+sip.instance=${inst};reg-id=1`], callId: 'a' }), 'alice', tcp(1, 5070));
      const res = await save(registrar, request({ contacts: [`<sip:alice@127.0.0.1:6000;transport=tcp>;+sip.instance=${inst};reg-id=1`], callId: 'b' }), 'alice', tcp(2, 6000));
      const list = await registrar.bindings('alice');
      assert.equal(list.length, 1);
      assert.equal(list[0].contact, 'sip:alice@127.0.0.1:6000;transport=tcp');
      assert.equal(list[0].instance, '<urn:uuid:00000000-0000-1000-8000-000A95A0E128>');
      assert.equal(list[0].regId, 1);
      assert.deepEqual(contactsOf(res), [`<sip:alice@127.0.0.1:6000;transport=tcp>;expires=3600;+sip.instance=${inst};reg-id=1`]);
    });

    it('keeps two flows of one instance with different reg-ids', async () => {
      const inst = '"<urn:uuid:1>"';
      await save(registrar, request({ contacts: [`<sip:alice@127.0.0.1:5070>;+sip.instance=${inst};reg-id=1`], callId: 'a' }), 'alice', tcp());
      await save(registrar, request({ contacts: [`<sip:alice@127.0.0.1:5071>;+sip.instance=${inst};reg-id=2`], callId: 'b' }), 'alice', tcp());
      assert.equal((await registrar.bindings('alice')).length, 2);
    });
  });

  describe('limits and extensions', () => {
    it('answers 403 Too Many Contacts when the AoR would exceed maxContacts', async () => {
      const four = [1, 2, 3, 4].map((i) => `<sip:alice@127.0.0.1:${5000 + i}>`);
      const res = await save(registrar, request({ contacts: four }), 'alice', tcp());
      assert.equal(res.status, 403);
      assert.equal(res.reason, 'Too Many Contacts');
      await save(registrar, request({ contacts: four.slice(0, 3), cseq: 2 }), 'alice', tcp());
      const more = await save(registrar, request({ contacts: [four[3]], cseq: 3 }), 'alice', tcp());
      assert.equal(more.status, 403);
      // replacing one while adding one stays within the limit
      const swap = await save(registrar, request({ contacts: [`${four[0]};expires=0`, four[3]], cseq: 4 }), 'alice', tcp());
      assert.equal(swap.status, 200);
    });

    it('stores Path only when the REGISTER says Supported: path (RFC 3327 §5.3)', async () => {
      const path = ['<sip:edge.example.com;lr>'];
      await save(registrar, request({ user: 'a', contacts: ['<sip:a@127.0.0.1:1>'], path }), 'a', tcp());
      assert.deepEqual((await registrar.bindings('a'))[0].path, []);
      const res = await save(registrar, request({ user: 'b', contacts: ['<sip:b@127.0.0.1:1>'], path, supported: 'path' }), 'b', tcp());
      assert.deepEqual((await registrar.bindings('b'))[0].path, path);
      assert.deepEqual(res.headerValues('path'), path);
    });

    it('keeps the source address and connection of the REGISTER in the binding', async () => {
      await save(registrar, request({ contacts: ['<sip:a@127.0.0.1:1>'], extra: [['User-Agent', 'tv/1']] }), 'alice', tcp(9, 5099));
      const [b] = await registrar.bindings('alice');
      assert.deepEqual([b.flow.transport, b.flow.address, b.flow.port, b.flow.connectionId, b.userAgent], ['tcp', '127.0.0.1', 5099, 9, 'tv/1']);
    });
  });

  describe('netstate and store', () => {
    it('with createUsers (auth none) creates an unknown user with unusable HA1s in the binding write, not on a query', async () => {
      const open = new Registrar({ store: store.asStore(), clock, policy, createUsers: { realm: 'tvphone' } });
      assert.equal((await save(open, request({ user: 'tv42', contacts: ['<sip:t@127.0.0.1:1>'] }), 'tv42', tcp())).status, 200);
      assert.deepEqual(store.users.get('tv42'), { userId: 'tv42', realm: 'tvphone', ha1Md5: '', ha1Sha256: '' });
      assert.equal(store.saves, 1, 'one write for the user and its binding');
      await save(open, request({ user: 'tv43' }), 'tv43', tcp()); // a query binds nothing
      assert.equal(store.users.has('tv43'), false);
      assert.equal((await save(registrar, request({ user: 'tv44', contacts: ['<sip:t@127.0.0.1:2>'] }), 'tv44', tcp())).status, 200);
      assert.equal(store.users.has('tv44'), false, 'without createUsers nobody is created');
      await open.close();
    });

    it('reports the netstate change of a first REGISTER and of a de-REGISTER', async () => {
      await save(registrar, request({ contacts: ['<sip:a@127.0.0.1:1>'], cseq: 1 }), 'alice', tcp());
      await save(registrar, request({ contacts: ['<sip:a@127.0.0.1:1>'], cseq: 2 }), 'alice', tcp());
      await save(registrar, request({ contacts: ['*'], expires: '0', cseq: 3 }), 'alice', tcp());
      assert.deepEqual(changes.map((c) => [c.presence.netstate, c.netstateChanged]), [[1, true], [1, false], [0, true]]);
    });

    it('removes only the closed connection\'s bindings and reports netstate 0', async () => {
      await save(registrar, request({ contacts: ['<sip:a@127.0.0.1:1>'], callId: 'a' }), 'alice', tcp(1));
      await save(registrar, request({ contacts: ['<sip:a@127.0.0.1:2>'], callId: 'b' }), 'alice', tcp(2));
      await save(registrar, request({ user: 'bob', contacts: ['<sip:b@127.0.0.1:3>'] }), 'bob', tcp(3));
      changes = [];
      const out = await registrar.connectionClosed(1);
      assert.equal(out.length, 1);
      assert.deepEqual((await registrar.bindings('alice')).map((b) => b.flow.connectionId), [2]);
      assert.equal((await registrar.bindings('bob')).length, 1);
      await registrar.connectionClosed(2);
      assert.deepEqual(changes.map((c) => [c.userId, c.presence.netstate]), [['alice', 1], ['alice', 0]]);
    });

    it('expires bindings and reports one change per user', async () => {
      await save(registrar, request({ contacts: ['<sip:a@127.0.0.1:1>'], expires: '60' }), 'alice', tcp());
      changes = [];
      clock.advance(61_000);
      const out = await registrar.expireNow();
      assert.deepEqual(out.map((c) => [c.userId, c.presence.netstate]), [['alice', 0]]);
      assert.equal(changes.length, 1);
    });

    it('runs the expiry on its own timer until stopped', async () => {
      const r = new Registrar({ store: store.asStore(), clock, policy, onChange: (c) => changes.push(c), expiryIntervalMs: 5 });
      await save(r, request({ contacts: ['<sip:a@127.0.0.1:1>'], expires: '60' }), 'alice', tcp());
      changes = [];
      clock.advance(61_000);
      r.start();
      r.start();
      for (let i = 0; i < 200 && changes.length === 0; i++) await clock.tick(5);
      r.close();
      r.close();
      assert.deepEqual(changes.map((c) => c.presence.netstate), [0]);
    });

    it('answers 503 with Retry-After when the store is unavailable', async () => {
      store.down = true;
      const res = await save(registrar, request({ contacts: ['<sip:a@127.0.0.1:1>'] }), 'alice', tcp(), { retryAfterSeconds: 7 });
      assert.equal(res.status, 503);
      assert.equal(res.header('retry-after'), '7');
    });

    it('does not reject connectionClosed or expireNow when the store is down', async () => {
      store.down = true;
      assert.deepEqual(await registrar.connectionClosed(1), []);
      assert.deepEqual(await registrar.expireNow(), []);
    });

    it('answers a CSeq it cannot read with 400 instead of throwing', async () => {
      const req = request({ contacts: ['<sip:a@127.0.0.1:1>'] });
      req.setHeader('CSeq', 'x REGISTER');
      assert.equal((await save(registrar, req, 'alice', tcp())).status, 400);
    });

    it('answers any Contact, Expires and Supported text with a response, never a rejection (property)', async () => {
      await fc.assert(fc.asyncProperty(fc.array(fc.string(), { maxLength: 3 }), fc.option(fc.string()), fc.option(fc.string()), async (contacts, expires, supported) => {
        const res = await save(registrar, request({ contacts, expires: expires ?? undefined, supported: supported ?? undefined }), 'alice', tcp());
        assert.ok([200, 400, 403, 416, 423].includes(res.status), String(res.status));
      }), { numRuns: 300 });
    });

    it('applies concurrent REGISTERs of one AoR one after the other', async () => {
      const all = await Promise.all([1, 2, 3, 4].map((i) =>
        save(registrar, request({ contacts: [`<sip:a@127.0.0.1:${i}>`], callId: `c${i}` }), 'alice', tcp())));
      assert.deepEqual(all.map((r) => r.status), [200, 200, 200, 403]);
    });
  });
});
