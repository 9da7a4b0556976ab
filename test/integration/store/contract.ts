// The store contract: every backend must pass these. `open` opens a new Store on the SAME database each
// time (so durability and two-writer tests can reopen it); tests keep apart by unique user names.

import assert from 'node:assert/strict';
import { randomInt, randomUUID } from 'node:crypto';
import { QuotaExceededError, StoreUnavailableError, TvphoneError } from '../../../src/errors.ts';
import type { Binding, Credentials, NewMessage, PushRegistration, RecoveredVoicemail, Store, Subscription, VoicemailCheckpoint } from '../../../src/store/store.ts';
import type { Flow } from '../../../src/flow.ts';

const T0 = 1_700_000_000_000;

export function describeStoreContract(name: string, open: () => Promise<Store>): void {
  describe(`store contract: ${name}`, function () {
    let stores: Store[] = [];
    let prefix = '';
    const u = (s: string) => `${prefix}-${s}`;
    async function openOne(): Promise<Store> {
      const s = await open();
      stores.push(s);
      return s;
    }

    beforeEach(function () {
      prefix = `t${randomUUID().slice(0, 8)}`;
    });
    afterEach(async function () {
      await Promise.all(stores.map((s) => s.close()));
      stores = [];
    });

    function creds(userId: string, realm = 'tv.example'): Credentials {
      return { userId, realm, ha1Md5: 'a'.repeat(32), ha1Sha256: 'b'.repeat(64) };
    }
    /** a connection id of this run's own (the database may be shared by concurrent runs) */
    const connection = () => randomInt(1, 2 ** 47);
    function binding(userId: string, contact: string, over: Partial<Binding> = {}, flow: Partial<Flow> = {}): Binding {
      return {
        userId, contact: `sip:${contact}@127.0.0.1:5062;transport=tcp`, expiresAt: T0 + 3600_000, q: 0.5, callId: `c-${contact}`,
        cseq: 1, path: ['<sip:edge.example;lr>', '<sip:core.example;lr>'], instance: '<urn:uuid:00000000-0000-0000-0000-000000000001>',
        regId: 1, flow: { transport: 'tcp', address: '127.0.0.1', port: 5062, connectionId: connection(), ...flow }, userAgent: 'tv/1',
        updatedAt: T0, node: 'n1', ...over,
      };
    }
    function message(toUser: string, body: Uint8Array, over: Partial<NewMessage> = {}): NewMessage {
      return {
        toUser, fromUri: 'sip:alice@tv.example', fromHeader: '"Alice" <sip:alice@tv.example>;tag=ab12', toUri: `sip:${toUser}@tv.example`,
        contentType: 'text/plain;charset=utf-8', body, receivedAt: T0, expiresAt: T0 + 86_400_000, ...over,
      };
    }
    function subscription(id: string, presentity: string, expiresAt: number): Subscription {
      return {
        id, event: 'presence', watcher: 'sip:w@tv.example', presentity, callId: `call-${id}`, localTag: 'lt', remoteTag: 'rt',
        remoteTarget: 'sip:w@127.0.0.1:5070', routeSet: ['<sip:p1;lr>'], cseq: 7, expiresAt,
        flow: { transport: 'udp', address: '127.0.0.1', port: 5070, connectionId: null }, node: 'n1',
      };
    }

    it('reports the schema version it migrated to', async function () {
      const s = await openOne();
      assert.ok((await s.schemaVersion()) >= 1);
    });

    describe('users and credentials', function () {
      it('adds a user with HA1 credentials and reads them back', async function () {
        const s = await openOne();
        await s.addUser(creds(u('1001')), T0);
        assert.deepEqual(await s.getCredentials(u('1001')), creds(u('1001')));
        assert.equal(await s.userExists(u('1001')), true);
        assert.equal(await s.userExists(u('nobody')), false);
        assert.equal(await s.getCredentials(u('nobody')), null);
        const listed = (await s.listUsers()).filter((r) => r.userId.startsWith(prefix));
        assert.deepEqual(listed, [{ userId: u('1001'), realm: 'tv.example', createdAt: T0 }]);
      });

      it('counts users by the realm of their credentials, but for the realm asked to leave out', async function () {
        const s = await openOne();
        const before = new Map((await s.usersByRealm('none.example')).map((r) => [r.realm, r.users]));
        const realm = `${prefix}.example`;
        await s.addUser(creds(u('1'), realm), T0);
        await s.addUser(creds(u('2'), realm), T0);
        await s.addUser(creds(u('3'), `old.${realm}`), T0);
        const after = new Map((await s.usersByRealm('none.example')).map((r) => [r.realm, r.users]));
        assert.equal(after.get(realm), 2);
        assert.equal(after.get(`old.${realm}`), 1);
        assert.equal(after.get('tv.example') ?? 0, before.get('tv.example') ?? 0);
        const others = new Map((await s.usersByRealm(realm)).map((r) => [r.realm, r.users]));
        assert.equal(others.has(realm), false, 'the realm left out');
        assert.equal(others.get(`old.${realm}`), 1);
      });

      it('refuses to add a user twice', async function () {
        const s = await openOne();
        await s.addUser(creds(u('1001')), T0);
        await assert.rejects(s.addUser(creds(u('1001')), T0), (e: unknown) => e instanceof TvphoneError && e.code === 'ERR_USER_EXISTS');
      });

      it('a new user is offline in user_property', async function () {
        const s = await openOne();
        await s.addUser(creds(u('1001')), T0);
        assert.deepEqual(await s.getPresence(u('1001')), { userId: u('1001'), ip: null, netstate: 0, since: T0 });
      });

      it('sets credentials only for an existing user', async function () {
        const s = await openOne();
        await s.addUser(creds(u('1001')), T0);
        const changed = { ...creds(u('1001'), 'other.example'), ha1Md5: 'c'.repeat(32) };
        assert.equal(await s.setCredentials(changed), true);
        assert.deepEqual(await s.getCredentials(u('1001')), changed);
        assert.equal(await s.setCredentials(creds(u('ghost'))), false);
        assert.equal(await s.userExists(u('ghost')), false);
      });

      it('imports users in one call, adding new ones and replacing existing ones', async function () {
        const s = await openOne();
        await s.addUser(creds(u('a')), T0);
        const list = [{ ...creds(u('a')), ha1Md5: 'd'.repeat(32) }, creds(u('b')), creds(u('c'))];
        assert.equal(await s.importUsers(list, T0 + 1), 3);
        assert.equal((await s.getCredentials(u('a')))?.ha1Md5, 'd'.repeat(32));
        const ids = (await s.listUsers()).filter((r) => r.userId.startsWith(prefix)).map((r) => r.userId);
        assert.deepEqual(ids, [u('a'), u('b'), u('c')]);
      });

      it('removes a user with its bindings and presence', async function () {
        const s = await openOne();
        await s.addUser(creds(u('1001')), T0);
        await s.saveBindings(u('1001'), [binding(u('1001'), 'x')], [], false, T0);
        assert.equal(await s.removeUser(u('1001')), true);
        assert.equal(await s.removeUser(u('1001')), false);
        assert.equal(await s.getCredentials(u('1001')), null);
        assert.deepEqual(await s.getBindings(u('1001'), T0), []);
        assert.equal(await s.getPresence(u('1001')), null);
      });
    });

    describe('bindings and user_property', function () {
      it('the first binding sets User_netstate 1 with User_ip; a second one changes nothing', async function () {
        const s = await openOne();
        const a = binding(u('tv'), 'a', {}, { address: '127.0.0.5' });
        const c1 = await s.saveBindings(u('tv'), [a], [], false, T0);
        assert.deepEqual(c1.bindings, [a]);
        assert.deepEqual(c1.presence, { userId: u('tv'), ip: '127.0.0.5', netstate: 1, since: T0 });
        assert.equal(c1.netstateChanged, true);
        assert.deepEqual(await s.getPresence(u('tv')), c1.presence);

        const b = binding(u('tv'), 'b', { updatedAt: T0 + 10, instance: null, regId: null, q: null, path: [], userAgent: null }, { address: '127.0.0.6', connectionId: null });
        const c2 = await s.saveBindings(u('tv'), [b], [], false, T0 + 10);
        assert.equal(c2.netstateChanged, false);
        assert.deepEqual(c2.bindings, [a, b]);
        assert.deepEqual(c2.presence, { userId: u('tv'), ip: '127.0.0.6', netstate: 1, since: T0 });
        assert.deepEqual(await s.getBindings(u('tv'), T0 + 10), [a, b]);
      });

      it('saveBindings with newUser creates an unknown user in the same write, and leaves an existing one as it is', async function () {
        const s = await openOne();
        const made = { ...creds(u('new')), ha1Md5: '', ha1Sha256: '' };
        const change = await s.saveBindings(u('new'), [binding(u('new'), 'n1')], [], false, T0, made);
        assert.equal(change.presence.netstate, 1);
        assert.equal(await s.userExists(u('new')), true);
        assert.deepEqual(await s.getCredentials(u('new')), made);
        await s.addUser(creds(u('old')), T0);
        await s.saveBindings(u('old'), [binding(u('old'), 'o1')], [], false, T0, { ...creds(u('old')), ha1Md5: 'x', ha1Sha256: 'y' });
        assert.deepEqual(await s.getCredentials(u('old')), creds(u('old')));
      });

      it('saveBindings with newUser keeps the last of a contact given twice, as for a known user', async function () {
        const s = await openOne();
        const made = { ...creds(u('twice')), ha1Md5: '', ha1Sha256: '' };
        const first = binding(u('twice'), 'c', { cseq: 1 });
        const last = binding(u('twice'), 'c', { cseq: 2 });
        const change = await s.saveBindings(u('twice'), [first, last], [], false, T0, made);
        assert.deepEqual(change.bindings.map((b) => [b.contact, b.cseq]), [[last.contact, 2]]);
        assert.deepEqual((await s.getBindings(u('twice'), T0)).map((b) => b.cseq), [2]);
      });

      it('saveBindings with expect writes only while the unexpired bindings are those expected, else answers them as stale', async function () {
        const s = await openOne();
        const made = { ...creds(u('cas')), ha1Md5: '', ha1Sha256: '' };
        const a = binding(u('cas'), 'a', { cseq: 1 });
        const first = await s.saveBindings(u('cas'), [a], [], false, T0, made, []);
        assert.equal(first.stale, undefined);
        assert.deepEqual(first.bindings, [a]);
        assert.equal(first.netstateChanged, true);
        // planned from "no binding" again: nothing written, the current bindings and state answered
        const b = binding(u('cas'), 'b', { cseq: 1, updatedAt: T0 + 1, expiresAt: T0 + 7200_000 });
        const stale = await s.saveBindings(u('cas'), [b], [], false, T0 + 1, made, []);
        assert.equal(stale.stale, true);
        assert.deepEqual(stale.bindings, [a]);
        assert.equal(stale.presence.netstate, 1);
        assert.equal(stale.kept, undefined);
        assert.deepEqual((await s.getBindings(u('cas'), T0 + 1)).map((x) => x.contact), [a.contact]);
        // a premise that differs only in the CSeq is stale too; the right one writes
        assert.equal((await s.saveBindings(u('cas'), [b], [], false, T0 + 1, undefined, [{ ...a, cseq: 0 }])).stale, true);
        const ok = await s.saveBindings(u('cas'), [b], [], false, T0 + 1, undefined, stale.bindings);
        assert.equal(ok.stale, undefined);
        assert.deepEqual(ok.bindings.map((x) => x.contact), [a.contact, b.contact]);
        // an expired binding is not part of the premise
        const later = a.expiresAt + 1;
        const c = binding(u('cas'), 'c', { cseq: 1, updatedAt: later, expiresAt: later + 3600_000 });
        const after = await s.saveBindings(u('cas'), [c], [], false, later, undefined, [b]);
        assert.equal(after.stale, undefined, 'a has expired: b alone is the premise');
        assert.deepEqual(after.bindings.map((x) => x.contact), [b.contact, c.contact]);
      });

      it('a binding change that turns User_netstate says who watches the user, read in its transaction; a refresh does not', async function () {
        const s = await openOne();
        await s.addUser(creds(u('wt')), T0);
        await s.saveSubscription(subscription(u('ws'), u('wt'), T0 + 100_000));
        await s.saveSubscription(subscription(u('wx'), u('wt'), T0 - 1)); // expired: not a watcher
        const on = await s.saveBindings(u('wt'), [binding(u('wt'), 'a')], [], false, T0);
        assert.equal(on.netstateChanged, true);
        assert.deepEqual(on.watchers?.map((w) => [w.id, w.presentity]), [[u('ws'), u('wt')]]);
        const again = await s.saveBindings(u('wt'), [binding(u('wt'), 'a', { cseq: 2, updatedAt: T0 + 1 })], [], false, T0 + 1);
        assert.equal(again.netstateChanged, false);
        assert.equal(again.watchers, undefined);
        const off = await s.saveBindings(u('wt'), [], [binding(u('wt'), 'a').contact], false, T0 + 2);
        assert.deepEqual(off.watchers?.map((w) => w.id), [u('ws')]);
      });

      it('a refresh replaces the binding of the same contact', async function () {
        const s = await openOne();
        await s.saveBindings(u('tv'), [binding(u('tv'), 'a')], [], false, T0);
        const again = binding(u('tv'), 'a', { cseq: 2, expiresAt: T0 + 7200_000, updatedAt: T0 + 5 });
        const c = await s.saveBindings(u('tv'), [again], [], false, T0 + 5);
        assert.deepEqual(c.bindings, [again]);
        assert.equal(c.netstateChanged, false);
      });

      it('de-registering the last contact sets User_netstate 0 and keeps the last address', async function () {
        const s = await openOne();
        const a = binding(u('tv'), 'a');
        const b = binding(u('tv'), 'b');
        await s.saveBindings(u('tv'), [a, b], [], false, T0);
        const c1 = await s.saveBindings(u('tv'), [], [a.contact], false, T0 + 1);
        assert.deepEqual(c1.bindings, [b]);
        assert.equal(c1.netstateChanged, false);
        const c2 = await s.saveBindings(u('tv'), [], [b.contact], false, T0 + 2);
        assert.deepEqual(c2.bindings, []);
        assert.equal(c2.netstateChanged, true);
        assert.deepEqual(c2.presence, { userId: u('tv'), ip: '127.0.0.1', netstate: 0, since: T0 + 2 });
      });

      it('Contact: * (removeAll) removes every binding', async function () {
        const s = await openOne();
        await s.saveBindings(u('tv'), [binding(u('tv'), 'a'), binding(u('tv'), 'b')], [], false, T0);
        const c = await s.saveBindings(u('tv'), [], [], true, T0 + 1);
        assert.deepEqual(c.bindings, []);
        assert.equal(c.presence.netstate, 0);
        assert.equal(c.netstateChanged, true);
      });

      it('expired bindings are not returned, and expiry sets User_netstate 0', async function () {
        const s = await openOne();
        await s.saveBindings(u('x'), [binding(u('x'), 'a', { expiresAt: T0 + 1000 })], [], false, T0);
        await s.saveBindings(u('y'), [binding(u('y'), 'a', { expiresAt: T0 + 1000 }), binding(u('y'), 'b', { expiresAt: T0 + 9000 })], [], false, T0);
        assert.equal((await s.getBindings(u('x'), T0 + 999)).length, 1);
        assert.deepEqual(await s.getBindings(u('x'), T0 + 1000), []);
        const changes = (await s.expireBindings(T0 + 1000)).filter((c) => c.userId.startsWith(prefix));
        assert.deepEqual(changes.map((c) => [c.userId, c.presence.netstate, c.netstateChanged, c.bindings.length]), [
          [u('x'), 0, true, 0],
          [u('y'), 1, false, 1],
        ]);
        assert.equal((await s.getPresence(u('x')))?.netstate, 0);
        assert.deepEqual((await s.expireBindings(T0 + 1000)).filter((c) => c.userId.startsWith(prefix)), []);
      });

      it('losing a connection removes the bindings that came over it, on its node only', async function () {
        const s = await openOne();
        const conn = connection();
        const other = connection();
        await s.saveBindings(u('x'), [binding(u('x'), 'a', {}, { connectionId: conn })], [], false, T0);
        await s.saveBindings(u('y'), [binding(u('y'), 'a', {}, { connectionId: conn }), binding(u('y'), 'b', {}, { connectionId: other })], [], false, T0);
        // the same connection number on another node is another connection (issue 18)
        await s.saveBindings(u('z'), [binding(u('z'), 'a', { node: 'n2' }, { connectionId: conn })], [], false, T0);
        const changes = (await s.removeBindingsByConnection(conn, 'n1', T0 + 1)).filter((c) => c.userId.startsWith(prefix));
        assert.deepEqual(changes.map((c) => [c.userId, c.presence.netstate, c.netstateChanged, c.bindings.map((b) => b.flow.connectionId)]), [
          [u('x'), 0, true, []],
          [u('y'), 1, false, [other]],
        ]);
        assert.deepEqual((await s.getBindings(u('z'), T0 + 1)).map((b) => [b.node, b.flow.connectionId]), [['n2', conn]]);
        assert.deepEqual(await s.removeBindingsByConnection(conn, 'n1', T0 + 2), []);
      });

      it('removes a node\'s connection-bound bindings in batches of users (start and shutdown), keeping the others; changes for the watched', async function () {
        const s = await openOne();
        const node = u('node'); // this test's own node: a shared database may hold other runs' connections
        // connections 1-4 in the index's order: the first batch of two is x's and y's, the second w's two
        await s.saveBindings(u('x'), [binding(u('x'), 'tcp', { node }, { connectionId: 1 }), binding(u('x'), 'udp', { node }, { transport: 'udp', connectionId: null })], [], false, T0);
        await s.saveBindings(u('y'), [binding(u('y'), 'tcp', { node }, { connectionId: 2 })], [], false, T0);
        await s.saveBindings(u('w'), [binding(u('w'), 'tcp', { node }, { connectionId: 3 }), binding(u('w'), 'tls', { node }, { transport: 'tls', connectionId: 4 })], [], false, T0);
        await s.saveBindings(u('z'), [binding(u('z'), 'tcp', { node: u('other') })], [], false, T0);
        await s.saveSubscription(subscription(u('sw'), u('w'), T0 + 100_000)); // someone watches w
        const batches: number[] = [];
        const changes = [];
        for (let r; (r = await s.removeConnectionBindings(node, T0 + 1, 2)).users > 0;) {
          batches.push(r.users);
          changes.push(...r.changes);
        }
        assert.deepEqual(batches, [2, 1], 'four bindings of three users, two a call');
        assert.deepEqual(changes.map((c) => [c.userId, c.presence.netstate, c.netstateChanged, c.bindings.length]), [[u('w'), 0, true, 0]]);
        assert.deepEqual((await s.getBindings(u('x'), T0 + 1)).map((b) => b.flow.transport), ['udp']);
        assert.equal((await s.getPresence(u('x')))?.netstate, 1, 'x keeps its UDP binding: online');
        assert.equal((await s.getBindings(u('y'), T0 + 1)).length, 0);
        assert.deepEqual([(await s.getPresence(u('y')))?.netstate, (await s.getPresence(u('y')))?.since], [0, T0 + 1], 'y offline since now');
        assert.equal((await s.getPresence(u('w')))?.netstate, 0);
        assert.equal((await s.getBindings(u('z'), T0 + 1)).length, 1, 'another node\'s connections are its own');
        assert.equal((await s.getPresence(u('z')))?.netstate, 1);
      });

      it('gives a lease to one node at a time, until it expires or is released', async function () {
        const s = await openOne();
        const name = `${prefix}-dump:tv1`;
        assert.equal(await s.claimLease(name, 'n1', T0, 30_000), true);
        assert.equal(await s.claimLease(name, 'n2', T0 + 1000, 30_000), false, 'held by n1');
        assert.equal(await s.claimLease(name, 'n1', T0 + 2000, 30_000), true, 'n1 renews it');
        assert.equal(await s.claimLease(name, 'n2', T0 + 31_000, 30_000), false, 'renewed until T0 + 32 s');
        assert.equal(await s.claimLease(name, 'n2', T0 + 32_000, 30_000), true, 'expired: n2 takes it');
        await s.releaseLease(name, 'n1'); // not n1's any more: nothing happens
        assert.equal(await s.claimLease(name, 'n1', T0 + 33_000, 30_000), false);
        await s.releaseLease(name, 'n2');
        assert.equal(await s.claimLease(name, 'n1', T0 + 34_000, 30_000), true, 'released: free again');
        // two nodes at once: exactly one gets it
        const race = `${prefix}-race`;
        const got = await Promise.all([s.claimLease(race, 'n1', T0, 30_000), s.claimLease(race, 'n2', T0, 30_000)]);
        assert.equal(got.filter(Boolean).length, 1, `one of two: ${got}`);
      });

      it('keeps each node\'s heartbeat and counts the live bindings and connections it holds', async function () {
        const s = await openOne();
        const a = `${prefix}-a`;
        const b = `${prefix}-b`;
        await s.heartbeat(a, 'sip:127.0.0.1:5070;transport=tcp', T0, true);
        await s.heartbeat(b, null, T0, true);
        await s.heartbeat(a, 'sip:127.0.0.1:5070;transport=tcp', T0 + 5000, false);
        await s.saveBindings(u('x'), [binding(u('x'), 'tcp', { node: a }), binding(u('x'), 'udp', { node: a }, { transport: 'udp', connectionId: null })], [], false, T0);
        const nodes = (await s.listNodes(T0 + 6000)).filter((n) => n.node.startsWith(prefix));
        assert.deepEqual(nodes, [
          { node: a, sipUri: 'sip:127.0.0.1:5070;transport=tcp', startedAt: T0, heartbeatAt: T0 + 5000, bindings: 2, connections: 1 },
          { node: b, sipUri: null, startedAt: T0, heartbeatAt: T0, bindings: 0, connections: 0 },
        ]);
        await s.heartbeat(b, null, T0 + 9000, true); // a restart
        assert.equal((await s.listNodes(T0 + 9000)).find((n) => n.node === b)?.startedAt, T0 + 9000);
      });

      it('lists the unexpired bindings of every user, by user', async function () {
        const s = await openOne();
        await s.saveBindings(u('b'), [binding(u('b'), 'b1', { updatedAt: T0 + 1 }), binding(u('b'), 'b0', { expiresAt: T0 + 10 })], [], false, T0);
        const a = binding(u('a'), 'a');
        await s.saveBindings(u('a'), [a], [], false, T0);
        const mine = (await s.listBindings(T0 + 100)).filter((b) => b.userId.startsWith(prefix));
        assert.deepEqual(mine.map((b) => [b.userId, b.contact]), [[u('a'), a.contact], [u('b'), binding(u('b'), 'b1').contact]]);
        assert.deepEqual(mine[0], a);
      });

      it('lists presence of every user', async function () {
        const s = await openOne();
        await s.addUser(creds(u('a')), T0);
        await s.saveBindings(u('b'), [binding(u('b'), 'b')], [], false, T0);
        const mine = (await s.listPresence()).filter((p) => p.userId.startsWith(prefix));
        assert.deepEqual(mine.map((p) => [p.userId, p.netstate]), [[u('a'), 0], [u('b'), 1]]);
      });
    });

    describe('server_secrets', function () {
      it('keeps the first key stored under a name: a later candidate, from this store or another, gets that one', async function () {
        const a = await openOne();
        const b = await openOne();
        const first = new Uint8Array(32).fill(1);
        assert.deepEqual(await a.serverSecret(u('rr'), first, T0), first);
        assert.deepEqual(await b.serverSecret(u('rr'), new Uint8Array(32).fill(2), T0 + 1), first);
        assert.deepEqual(await a.serverSecret(u('rr'), new Uint8Array(32).fill(3), T0 + 2), first);
        const other = new Uint8Array(32).fill(4);
        assert.deepEqual(await b.serverSecret(u('vm'), other, T0), other, 'names are apart');
      });
    });

    describe('user_call', function () {
      it('records calls with ascending ids and updates them', async function () {
        const s = await openOne();
        const id1 = await s.recordCall({ userId: u('a'), otherUserId: u('b'), callDate: T0, callId: 'c1', outcome: 'pending' });
        const id2 = await s.recordCall({ userId: u('b'), otherUserId: u('a'), callDate: T0 + 1, callId: 'c2', outcome: 'offline', status: 480 });
        assert.ok(id2 > id1);
        await s.updateCall(id1, { outcome: 'answered', status: 200, answeredAt: T0 + 5 });
        await s.updateCall(id1, { endedAt: T0 + 65, durationMs: 60 });
        const calls = await s.listCalls({ userId: u('a') });
        const local = { trunk: null, dialledNumber: null, sentNumber: null };
        assert.deepEqual(calls, [
          { id: id1, userId: u('a'), otherUserId: u('b'), callDate: T0, callId: 'c1', outcome: 'answered', status: 200, answeredAt: T0 + 5, endedAt: T0 + 65, durationMs: 60, notifiedAt: null, ...local },
          { id: id2, userId: u('b'), otherUserId: u('a'), callDate: T0 + 1, callId: 'c2', outcome: 'offline', status: 480, answeredAt: null, endedAt: null, durationMs: null, notifiedAt: null, ...local },
        ]);
      });

      it('records a call out through a trunk: the number dialled and as sent, the trunk; lists by trunk', async function () {
        const s = await openOne();
        const id = await s.recordCall({ userId: u('a'), otherUserId: '0301234', callDate: T0, callId: 't1', outcome: 'pending', dialledNumber: '0301234', sentNumber: '+49301234' });
        await s.recordCall({ userId: u('a'), otherUserId: u('b'), callDate: T0 + 1, callId: 't2', outcome: 'pending' });
        const trunk = u('carrier'); // the store may be shared by the suite's tests
        await s.updateCall(id, { outcome: 'answered', status: 200, answeredAt: T0 + 5, trunk });
        await s.updateCall(id, { endedAt: T0 + 65, durationMs: 60 });
        const listed = await s.listCalls({ trunk });
        assert.deepEqual(listed.map((c) => [c.id, c.trunk, c.dialledNumber, c.sentNumber, c.outcome, c.durationMs]), [[id, trunk, '0301234', '+49301234', 'answered', 60]]);
        assert.equal((await s.listCalls({ userId: u('a') })).length, 2);
        assert.deepEqual(await s.listCalls({ trunk: u('other') }), []);
      });

      it('lists missed calls and the unnotified ones, and marks them notified', async function () {
        const s = await openOne();
        const ids: number[] = [];
        for (const outcome of ['offline', 'answered', 'no-answer', 'busy', 'cancelled', 'rejected'] as const) {
          ids.push(await s.recordCall({ userId: u('a'), otherUserId: u('tv'), callDate: T0, callId: `c-${outcome}`, outcome }));
        }
        await s.recordCall({ userId: u('tv'), otherUserId: u('a'), callDate: T0, callId: 'out', outcome: 'offline' });
        const missed = await s.listCalls({ missedBy: u('tv') });
        assert.deepEqual(missed.map((c) => c.outcome), ['offline', 'no-answer', 'busy', 'cancelled']);
        await s.markCallsNotified([ids[0], ids[2]], T0 + 100);
        const left = await s.listCalls({ missedBy: u('tv'), unnotified: true });
        assert.deepEqual(left.map((c) => c.id), [ids[3], ids[4]]);
        assert.equal((await s.listCalls({ missedBy: u('tv') }))[0].notifiedAt, T0 + 100);
        assert.deepEqual((await s.listCalls({ userId: u('tv'), limit: 2 })).map((c) => c.callId), ['c-rejected', 'out']);
        assert.deepEqual((await s.listCalls({ missedBy: u('tv'), limit: 2 })).map((c) => c.outcome), ['busy', 'cancelled']);
        assert.equal((await s.listCalls({ userId: u('tv') })).length, 7);
      });
    });

    describe('stored messages', function () {
      const everyByte = Uint8Array.from({ length: 256 }, (_, i) => i);

      it('keptFor tells whether pending messages or unnotified missed calls wait for a user', async function () {
        const s = await openOne();
        await s.addUser(creds(u('k')), T0);
        assert.deepEqual(await s.keptFor(u('k')), { messages: false, missedCalls: false });
        const m = await s.storeMessage(message(u('k'), new Uint8Array([1])));
        assert.deepEqual(await s.keptFor(u('k')), { messages: true, missedCalls: false });
        await s.markDelivered(m.id, T0 + 1);
        const id = await s.recordCall({ userId: u('a'), otherUserId: u('k'), callDate: T0, callId: 'kc', outcome: 'offline', status: 480 });
        assert.deepEqual(await s.keptFor(u('k')), { messages: false, missedCalls: true });
        await s.markCallsNotified([id], T0 + 2);
        assert.deepEqual(await s.keptFor(u('k')), { messages: false, missedCalls: false });
        await s.recordCall({ userId: u('a'), otherUserId: u('k'), callDate: T0, callId: 'kd', outcome: 'answered', status: 200 });
        assert.deepEqual(await s.keptFor(u('k')), { messages: false, missedCalls: false }, 'an answered call is not kept');
      });

      it('saveBindings that adds or refreshes a binding says what is kept, read in its transaction; a removal says nothing', async function () {
        const s = await openOne();
        await s.addUser(creds(u('kr')), T0);
        assert.deepEqual((await s.saveBindings(u('kr'), [binding(u('kr'), 'x')], [], false, T0)).kept, { messages: false, missedCalls: false });
        await s.storeMessage(message(u('kr'), new Uint8Array([1])));
        await s.recordCall({ userId: u('a'), otherUserId: u('kr'), callDate: T0, callId: 'krc', outcome: 'offline', status: 480 });
        assert.deepEqual((await s.saveBindings(u('kr'), [binding(u('kr'), 'x')], [], false, T0 + 1)).kept, { messages: true, missedCalls: true });
        assert.equal((await s.saveBindings(u('kr'), [], ['x'], false, T0 + 2)).kept, undefined);
      });

      it('holds a quota given to storeMessage when writes for one user arrive together (two stores)', async function () {
        const [s1, s2] = [await openOne(), await openOne()];
        await s1.addUser(creds(u('quota')), T0);
        const msg = (i: number, body = new Uint8Array([i])) => message(u('quota'), body, { receivedAt: T0 + i });
        const quota = { count: 3, bytes: 1000 };
        const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => (i % 2 ? s1 : s2).storeMessage(msg(i), quota)));
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 3);
        for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof QuotaExceededError, String(r.reason));
        assert.equal((await s1.pendingUsage(u('quota'))).count, 3);
        await assert.rejects(s1.storeMessage(msg(1, new Uint8Array(2000)), { count: 100, bytes: 1000 }), QuotaExceededError);
      });

      it('keeps a body byte for byte and returns pending messages oldest first', async function () {
        const s = await openOne();
        const bodies = [everyByte, new Uint8Array(0), Uint8Array.from([0xff, 0xfe, 0x00, 0xc3, 0x28]), new TextEncoder().encode('héllo\r\n')];
        const stored: Awaited<ReturnType<Store["storeMessage"]>>[] = [];
        for (const [i, body] of bodies.entries()) stored.push(await s.storeMessage(message(u('tv'), body, { receivedAt: T0 + i })));
        for (let i = 1; i < stored.length; i++) assert.ok(stored[i].id > stored[i - 1].id);
        const pending = await s.pendingMessages(u('tv'), 100);
        assert.deepEqual(pending.map((m) => m.id), stored.map((m) => m.id));
        pending.forEach((m, i) => {
          assert.deepEqual(Buffer.from(m.body), Buffer.from(bodies[i]));
          assert.deepEqual(m, { ...stored[i], body: m.body });
        });
        assert.deepEqual(stored[0], { id: stored[0].id, ...message(u('tv'), everyByte), state: 'pending', attempts: 0, nextAttemptAt: null, deliveredAt: null });
        assert.deepEqual((await s.pendingMessages(u('tv'), 2)).map((m) => m.id), stored.slice(0, 2).map((m) => m.id));
        assert.deepEqual(await s.pendingUsage(u('tv')), { count: 4, bytes: 256 + 0 + 5 + 8 });
        assert.deepEqual(await s.pendingUsage(u('nobody')), { count: 0, bytes: 0 });
      });

      it('records attempts and delivery; a delivered message is no longer pending', async function () {
        const s = await openOne();
        const m1 = await s.storeMessage(message(u('tv'), everyByte));
        const m2 = await s.storeMessage(message(u('tv'), everyByte));
        await s.recordAttempt(m1.id, T0 + 1, T0 + 30_000);
        await s.recordAttempt(m1.id, T0 + 2, T0 + 60_000);
        let [p1] = await s.pendingMessages(u('tv'), 1);
        assert.equal(p1.attempts, 2);
        assert.equal(p1.nextAttemptAt, T0 + 60_000);
        await s.markDelivered(m1.id, T0 + 3);
        [p1] = await s.listMessages({ toUser: u('tv'), state: 'delivered' });
        assert.equal(p1.id, m1.id);
        assert.equal(p1.deliveredAt, T0 + 3);
        assert.equal(p1.nextAttemptAt, null);
        assert.deepEqual((await s.pendingMessages(u('tv'), 10)).map((m) => m.id), [m2.id]);
        assert.deepEqual(await s.pendingUsage(u('tv')), { count: 1, bytes: 256 });
      });

      it('expires pending messages past their expiry and purges old history', async function () {
        const s = await openOne();
        const old = await s.storeMessage(message(u('tv'), everyByte, { expiresAt: T0 + 10 }));
        const fresh = await s.storeMessage(message(u('tv'), everyByte, { expiresAt: T0 + 1_000_000 }));
        const done = await s.storeMessage(message(u('tv'), everyByte, { expiresAt: T0 + 10 }));
        await s.markDelivered(done.id, T0 + 5);
        const expired = (await s.expireMessages(T0 + 10)).filter((m) => m.toUser === u('tv'));
        assert.deepEqual(expired.map((m) => [m.id, m.state]), [[old.id, 'expired']]);
        assert.deepEqual((await s.listMessages({ toUser: u('tv') })).map((m) => [m.id, m.state]), [
          [old.id, 'expired'], [fresh.id, 'pending'], [done.id, 'delivered'],
        ]);
        assert.deepEqual((await s.listMessages({ toUser: u('tv'), state: 'pending', limit: 5 })).map((m) => m.id), [fresh.id]);
        // a limit keeps the newest, handed back oldest first (as listCalls)
        assert.deepEqual((await s.listMessages({ toUser: u('tv'), limit: 2 })).map((m) => m.id), [fresh.id, done.id]);
        assert.ok((await s.purgeMessages(T0 + 11)) >= 2);
        assert.deepEqual((await s.listMessages({ toUser: u('tv') })).map((m) => m.id), [fresh.id]);
      });
    });

    describe('voice messages', function () {
      const wav = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff);
      function voicemail(toUser: string, audio: Uint8Array, over: Partial<NewMessage> = {}) {
        return {
          message: message(toUser, audio, { contentType: 'audio/wav', ...over }), caller: 'alice', callId: `vm-${randomUUID()}`,
          callRecordId: 42, durationMs: 5000.4, codec: 'PCMA',
        };
      }

      it('keeps a voice message as a message of its own in arrival order with the text ones, its WAV byte for byte', async function () {
        const s = await openOne();
        const text1 = await s.storeMessage(message(u('vm'), Uint8Array.of(1, 2), { receivedAt: T0 }));
        const vm = await s.storeVoicemail(voicemail(u('vm'), wav(3000), { receivedAt: T0 + 1 }));
        const text2 = await s.storeMessage(message(u('vm'), Uint8Array.of(3), { receivedAt: T0 + 2 }));
        assert.deepEqual(vm, {
          id: vm.id, toUser: u('vm'), caller: 'alice', fromUri: 'sip:alice@tv.example', callId: vm.callId, callRecordId: 42, recordedAt: T0 + 1,
          durationMs: 5000, codec: 'PCMA', bytes: 3000, state: 'pending', deliveredAt: null, contentType: 'audio/wav',
        });
        assert.deepEqual((await s.pendingMessages(u('vm'), 10)).map((m) => [m.id, m.contentType]), [
          [text1.id, 'text/plain;charset=utf-8'], [vm.id, 'audio/wav'], [text2.id, 'text/plain;charset=utf-8'],
        ]);
        assert.deepEqual(Buffer.from((await s.voicemailAudio(vm.id))!), Buffer.from(wav(3000)));
        assert.equal(await s.voicemailAudio(text1.id), null, 'a text message is no voice message');
        assert.deepEqual(await s.getVoicemail(vm.id), vm);
        assert.deepEqual(await s.listVoicemails({ toUser: u('vm') }), [vm]);
        await s.markDelivered(vm.id, T0 + 9);
        assert.deepEqual((await s.listVoicemails({ toUser: u('vm'), limit: 1 }))[0], { ...vm, state: 'delivered', deliveredAt: T0 + 9 });
        assert.deepEqual(await s.listVoicemails({ toUser: u('nobody') }), []);
      });

      it('counts a voice message and its WAV against the quota, in the same transaction as the insert', async function () {
        const s = await openOne();
        await s.addUser(creds(u('vq')), T0);
        await s.storeMessage(message(u('vq'), new Uint8Array(600)));
        await assert.rejects(s.storeVoicemail(voicemail(u('vq'), wav(500)), { count: 10, bytes: 1000 }), QuotaExceededError);
        assert.deepEqual(await s.listVoicemails({ toUser: u('vq') }), [], 'nothing of a refused voice message is kept');
        await s.storeVoicemail(voicemail(u('vq'), wav(400)), { count: 10, bytes: 1000 });
        assert.deepEqual(await s.pendingUsage(u('vq')), { count: 2, bytes: 1000 });
        await assert.rejects(s.storeVoicemail(voicemail(u('vq'), wav(1)), { count: 2, bytes: 10_000 }), QuotaExceededError);
      });

      it('deletes a voice message with its messages row; purging old history purges delivered voice messages', async function () {
        const s = await openOne();
        const a = await s.storeVoicemail(voicemail(u('vd'), wav(10), { expiresAt: T0 + 10 }));
        const b = await s.storeVoicemail(voicemail(u('vd'), wav(10), { expiresAt: T0 + 10 }));
        assert.equal(await s.deleteVoicemail(a.id), true);
        assert.equal(await s.deleteVoicemail(a.id), false);
        assert.deepEqual((await s.pendingMessages(u('vd'), 10)).map((m) => m.id), [b.id], 'a deleted voice message is not delivered');
        await s.markDelivered(b.id, T0 + 5);
        assert.ok((await s.purgeMessages(T0 + 11)) >= 1);
        assert.deepEqual(await s.listVoicemails({ toUser: u('vd') }), []);
        assert.equal(await s.getVoicemail(b.id), null);
      });
    });

    describe('voicemail greetings (schema 8)', function () {
      it("keeps a user's greeting byte for byte, replaces it, removes it, and none for an unknown user or with the user", async function () {
        const s = await openOne();
        const wav = (n: number, k: number) => Uint8Array.from({ length: n }, (_, i) => (i * k) & 0xff);
        await s.addUser(creds(u('g')), T0);
        assert.equal(await s.greeting(u('g')), null);
        assert.equal(await s.setGreeting(u('g'), wav(70_000, 3), T0), true);
        assert.deepEqual(Buffer.from((await s.greeting(u('g')))!), Buffer.from(wav(70_000, 3)));
        assert.equal(await s.setGreeting(u('g'), wav(100, 5), T0 + 1), true);
        assert.deepEqual(Buffer.from((await s.greeting(u('g')))!), Buffer.from(wav(100, 5)), 'replaced');
        assert.equal(await s.setGreeting(u('nobody'), wav(10, 1), T0), false, 'no such user');
        assert.equal(await s.greeting(u('nobody')), null);
        assert.equal(await s.removeGreeting(u('g')), true);
        assert.equal(await s.removeGreeting(u('g')), false);
        assert.equal(await s.greeting(u('g')), null);
        await s.setGreeting(u('g'), wav(10, 1), T0);
        await s.removeUser(u('g'));
        assert.equal(await s.greeting(u('g')), null, 'removed with its user');
      });
    });

    describe('recordings in progress (voicemail checkpoints, schema 10)', function () {
      const wav = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 13) & 0xff);
      function checkpoint(toUser: string, callId: string, o: Partial<VoicemailCheckpoint> = {}): VoicemailCheckpoint {
        return {
          callId, toUser, caller: 'alice', callRecordId: null, fromUri: 'sip:alice@tv.example', fromHeader: '<sip:alice@tv.example>;tag=a',
          toUri: `sip:${toUser}@tv.example`, recordedAt: T0, codec: 'PCMU', durationMs: 3000, audio: wav(600), checkpointedAt: T0 + 2000, ...o,
        };
      }
      const opts = { minDurationMs: 500, expiryMs: 60_000, contentType: 'audio/wav', quota: { count: 10, bytes: 1000 } };

      it('keeps one checkpoint per call, replaced by the next, and removed by the voice message of that call', async function () {
        const s = await openOne();
        const callId = `ck-${randomUUID()}`;
        await s.saveVoicemailCheckpoint(checkpoint(u('ck'), callId));
        await s.saveVoicemailCheckpoint(checkpoint(u('ck'), callId, { durationMs: 4000, audio: wav(800), checkpointedAt: T0 + 4000 }));
        const mine = (r: RecoveredVoicemail[]) => r.filter((x) => x.callId === callId);
        assert.deepEqual(mine(await s.recoverVoicemails(T0 + 3000, opts)), [], 'renewed at T0+4000: not stale at T0+3000');
        await s.storeVoicemail({
          message: message(u('ck'), wav(800), { contentType: 'audio/wav' }), caller: 'alice', callId, callRecordId: null, durationMs: 4100, codec: 'PCMU',
        });
        assert.deepEqual(mine(await s.recoverVoicemails(T0 + 60_000, opts)), [], 'the committed message took its checkpoint');
        assert.equal((await s.listVoicemails({ toUser: u('ck') })).length, 1);
        await s.saveVoicemailCheckpoint(checkpoint(u('ck'), `${callId}-2`));
        await s.deleteVoicemailCheckpoint(`${callId}-2`);
        assert.deepEqual((await s.recoverVoicemails(T0 + 60_000, opts)).filter((x) => x.callId === `${callId}-2`), []);
      });

      it('recovers a stale checkpoint as its call\'s voice message (outcome voicemail), drops a short one and one over the quota', async function () {
        const s = await openOne();
        const id = await s.recordCall({ userId: u('kr-a'), otherUserId: u('kr'), callDate: T0, callId: `kr-${randomUUID()}`, outcome: 'offline', status: 200 });
        const [call] = await s.listCalls({ userId: u('kr-a') });
        const kept = checkpoint(u('kr'), call.callId, { callRecordId: id, checkpointedAt: T0 + 4000 });
        const short = checkpoint(u('kr'), `${call.callId}-short`, { durationMs: 300 });
        const over = checkpoint(u('kq'), `${call.callId}-over`, { audio: wav(2000) });
        for (const c of [kept, short, over]) await s.saveVoicemailCheckpoint(c);
        const done = (await s.recoverVoicemails(T0 + 5000, opts)).filter((r) => r.callId.startsWith(call.callId));
        assert.deepEqual(done.map((r) => [r.callId, r.messageId !== null]).sort(), [[call.callId, true], [over.callId, false], [short.callId, false]].sort());
        const r = done.find((x) => x.callId === call.callId)!;
        const vm = await s.getVoicemail(r.messageId!);
        assert.deepEqual(vm, {
          id: r.messageId, toUser: u('kr'), caller: 'alice', fromUri: 'sip:alice@tv.example', callId: call.callId, callRecordId: id, recordedAt: T0,
          durationMs: 3000, codec: 'PCMU', bytes: 600, state: 'pending', deliveredAt: null, contentType: 'audio/wav',
        });
        assert.deepEqual(Buffer.from((await s.voicemailAudio(r.messageId!))!), Buffer.from(wav(600)));
        assert.equal((await s.pendingMessages(u('kr'), 10))[0].expiresAt, T0 + 60_000);
        const [after] = await s.listCalls({ userId: u('kr-a') });
        assert.deepEqual([after.outcome, after.endedAt, after.durationMs], ['voicemail', T0 + 4000, 3000]);
        assert.deepEqual(await s.listVoicemails({ toUser: u('kq') }), [], 'over the quota: not kept');
        assert.deepEqual((await s.recoverVoicemails(T0 + 5000, opts)).filter((x) => x.callId.startsWith(call.callId)), [], 'each one once');
      });

      it('leaves a call still recording here alone, and the commit of a call replaces what a sweep recovered of it', async function () {
        const s = await openOne();
        const callId = `kl-${randomUUID()}`;
        await s.saveVoicemailCheckpoint(checkpoint(u('kl'), callId));
        assert.deepEqual((await s.recoverVoicemails(T0 + 60_000, { ...opts, exclude: [callId] })).filter((x) => x.callId === callId), []);
        const [r] = (await s.recoverVoicemails(T0 + 60_000, opts)).filter((x) => x.callId === callId);
        assert.ok(r.messageId !== null);
        const whole = await s.storeVoicemail({
          message: message(u('kl'), wav(900), { contentType: 'audio/wav' }), caller: 'alice', callId, callRecordId: null, durationMs: 6000, codec: 'PCMU',
        }, opts.quota);
        assert.deepEqual((await s.listVoicemails({ toUser: u('kl') })).map((v) => [v.id, v.durationMs]), [[whole.id, 6000]], 'one call, one message');
        assert.deepEqual((await s.pendingMessages(u('kl'), 10)).map((m) => m.id), [whole.id]);
      });
    });

    describe('subscriptions', function () {
      it('saves, replaces, finds, expires and removes subscriptions', async function () {
        const s = await openOne();
        const p = `sip:${u('tv')}@tv.example`;
        await s.saveSubscription(subscription(u('s1'), p, T0 + 100));
        await s.saveSubscription(subscription(u('s2'), p, T0 + 5));
        await s.saveSubscription({ ...subscription(u('s1'), p, T0 + 200), cseq: 8, event: 'message-summary' });
        assert.deepEqual(await s.subscriptionsFor(p, T0), [{ ...subscription(u('s1'), p, T0 + 200), cseq: 8, event: 'message-summary' }, subscription(u('s2'), p, T0 + 5)]);
        assert.deepEqual((await s.subscriptionsFor(p, T0 + 5)).map((x) => x.id), [u('s1')]);
        const expired = (await s.expireSubscriptions(T0 + 5)).filter((x) => x.presentity === p);
        assert.deepEqual(expired.map((x) => x.id), [u('s2')]);
        assert.deepEqual((await s.subscriptionsFor(p, 0)).map((x) => x.id), [u('s1')]);
        await s.removeSubscription(u('s1'));
        assert.deepEqual(await s.subscriptionsFor(p, 0), []);
      });
    });

    describe('bans shared by the nodes (schema 11)', function () {
      it('records a ban, keeps its latest end, lists those changed since a time and still running, and purges the ended', async function () {
        const s = await openOne();
        const mine = (bans: Array<{ key: string }>) => bans.filter((b) => b.key.startsWith(prefix));
        await s.saveBan({ kind: 'source', key: u('198.51.100.7'), until: T0 + 600_000, node: 'a' }, T0);
        await s.saveBan({ kind: 'user', key: u('1001'), until: T0 + 300_000, node: 'b' }, T0 + 10);
        await s.saveBan({ kind: 'source', key: u('198.51.100.7'), until: T0 + 100_000, node: 'b' }, T0 + 20); // earlier end: kept as it was
        assert.deepEqual(mine(await s.bansChanged(T0, T0 + 1)), [
          { kind: 'source', key: u('198.51.100.7'), until: T0 + 600_000, node: 'a' },
          { kind: 'user', key: u('1001'), until: T0 + 300_000, node: 'b' },
        ]);
        assert.deepEqual(mine(await s.bansChanged(T0 + 5, T0 + 1)).map((b) => b.key), [u('1001')]);
        await s.saveBan({ kind: 'source', key: u('198.51.100.7'), until: T0 + 900_000, node: 'c' }, T0 + 30); // later end: lengthened
        assert.deepEqual(mine(await s.bansChanged(T0 + 25, T0 + 1)), [{ kind: 'source', key: u('198.51.100.7'), until: T0 + 900_000, node: 'c' }]);
        assert.deepEqual(mine(await s.bansChanged(T0, T0 + 300_000)).map((b) => b.key), [u('198.51.100.7')]); // the user's ended
        assert.ok((await s.purgeBans(T0 + 300_000)) >= 1);
        assert.deepEqual(mine(await s.bansChanged(0, 0)).map((b) => b.key), [u('198.51.100.7')]);
      });
    });

    describe('push registrations (RFC 8599)', function () {
      it('keeps one row per user and device, replaces it, finds the unexpired ones newest first, expires and removes them', async function () {
        const s = await openOne();
        const user = u('pn');
        const reg = (device: string, over: Partial<PushRegistration> = {}): PushRegistration => ({
          userId: user, device, provider: 'tvphone', prid: `prid-${device}`, param: null, contact: 'sip:tv@127.0.0.1:5062;pn-provider=tvphone',
          expiresAt: T0 + 100, updatedAt: T0, ...over,
        });
        await s.savePushRegistration(reg('a'));
        await s.savePushRegistration(reg('b', { expiresAt: T0 + 5, updatedAt: T0 + 1, param: 'p1' }));
        await s.savePushRegistration(reg('a', { prid: 'prid-new', expiresAt: T0 + 200, updatedAt: T0 + 2 }));
        assert.deepEqual(await s.pushRegistrations(user, T0), [reg('a', { prid: 'prid-new', expiresAt: T0 + 200, updatedAt: T0 + 2 }),
          reg('b', { expiresAt: T0 + 5, updatedAt: T0 + 1, param: 'p1' })]);
        assert.deepEqual((await s.pushRegistrations(user, T0 + 5)).map((r) => r.device), ['a'], 'an expired row is not returned');
        assert.ok((await s.expirePushRegistrations(T0 + 5)) >= 1);
        assert.deepEqual((await s.pushRegistrations(user, 0)).map((r) => r.device), ['a'], 'expiry deleted only the expired row');
        await s.removePushRegistration(user, 'a');
        assert.deepEqual(await s.pushRegistrations(user, 0), []);
      });
    });

    describe('concurrency and durability', function () {
      it('two writers on the same database lose nothing', async function () {
        this.timeout(60_000);
        const a = await openOne();
        const b = await openOne();
        const n = 40;
        const work: Promise<unknown>[] = [];
        for (let i = 0; i < n; i++) {
          const s = i % 2 ? a : b;
          work.push(s.saveBindings(u(`w${i}`), [binding(u(`w${i}`), 'a')], [], false, T0));
          work.push(s.storeMessage(message(u('inbox'), Uint8Array.of(i))));
          // both writers register contacts of the same user at once
          work.push(s.saveBindings(u('shared'), [binding(u('shared'), `c${i}`)], [], false, T0));
        }
        await Promise.all(work);
        for (const s of [a, b]) {
          const msgs = await s.pendingMessages(u('inbox'), 1000);
          assert.equal(msgs.length, n);
          assert.deepEqual(msgs.map((m) => m.body[0]).sort((x, y) => x - y), Array.from({ length: n }, (_, i) => i));
          assert.equal((await s.getBindings(u('shared'), T0)).length, n);
          assert.equal((await s.getPresence(u('shared')))?.netstate, 1);
          for (let i = 0; i < n; i++) assert.equal((await s.getPresence(u(`w${i}`)))?.netstate, 1);
        }
      });

      it('a failing write among writes of the same tick fails alone', async function () {
        const s = await openOne();
        await s.addUser(creds(u('dup')), T0);
        const [dup, msg, other] = await Promise.allSettled([
          s.addUser(creds(u('dup')), T0),
          s.storeMessage(message(u('tv'), Uint8Array.of(1))),
          s.addUser(creds(u('new')), T0),
        ]);
        assert.equal(dup.status, 'rejected');
        assert.equal(msg.status, 'fulfilled');
        assert.equal(other.status, 'fulfilled');
        assert.equal(await s.userExists(u('new')), true);
        assert.equal((await s.pendingMessages(u('tv'), 10)).length, 1);
      });

      it('a write that resolved is there after close and reopen', async function () {
        const s = await openOne();
        const writes = [];
        for (let i = 0; i < 20; i++) writes.push(s.storeMessage(message(u('tv'), Uint8Array.of(i, 255 - i))));
        const stored = await Promise.all(writes);
        await s.saveBindings(u('tv'), [binding(u('tv'), 'a')], [], false, T0);
        await s.close();
        const again = await openOne();
        assert.deepEqual((await again.pendingMessages(u('tv'), 100)).map((m) => [m.id, Array.from(m.body)]), stored.sort((x, y) => x.id - y.id).map((m) => [m.id, Array.from(m.body)]));
        assert.equal((await again.getPresence(u('tv')))?.netstate, 1);
      });

      it('a closed store refuses work with StoreUnavailableError', async function () {
        const s = await openOne();
        await s.close();
        await s.close();
        await assert.rejects(s.getPresence(u('x')), StoreUnavailableError);
        await assert.rejects(s.storeMessage(message(u('x'), Uint8Array.of(1))), StoreUnavailableError);
      });
    });
  });
}
