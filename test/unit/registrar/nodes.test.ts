// registrar/nodes: which node a binding is reached through, and the flow token another node's request carries.
import assert from 'node:assert/strict';
import { FakeClock } from '../../../src/clock.ts';
import { Nodes } from '../../../src/registrar/nodes.ts';
import type { Binding, NodeRecord } from '../../../src/store/store.ts';

const T0 = 1_800_000_000_000;

function nodesWith(records: NodeRecord[], open: Set<number> = new Set([7])): { nodes: Nodes; clock: FakeClock; beats: string[] } {
  const clock = new FakeClock(T0);
  const beats: string[] = [];
  const nodes = new Nodes({
    store: {
      heartbeat: async (node, _uri, _now, starting) => void beats.push(`${node}${starting ? ' start' : ''}`),
      listNodes: async () => records,
    },
    clock, id: 'a', sipUri: 'sip:10.0.0.1:5060;transport=tcp', heartbeatSeconds: 5, leaseSeconds: 20,
    key: new Uint8Array(32).fill(3), hasConnection: (id) => open.has(id),
  });
  return { nodes, clock, beats };
}

function record(node: string, heartbeatAt: number, sipUri: string | null = `sip:10.0.0.2:5060;transport=tcp`): NodeRecord {
  return { node, sipUri, startedAt: T0 - 60_000, heartbeatAt, bindings: 1, connections: 1 };
}

function binding(node: string | null, connectionId: number | null = 7): Binding {
  return {
    userId: 'tv1', contact: 'sip:c@192.0.2.9:40000;transport=tcp', expiresAt: T0 + 3600_000, q: null, callId: 'x', cseq: 1, path: [],
    instance: null, regId: null, flow: { transport: 'tcp', address: '192.0.2.9', port: 40000, connectionId }, userAgent: null, updatedAt: T0, node,
  };
}

describe('registrar/nodes: several nodes on one database', function () {
  it('writes a start heartbeat, then one every heartbeatSeconds', async function () {
    const { nodes, clock, beats } = nodesWith([]);
    await nodes.start();
    await clock.tick(5000);
    await clock.tick(5000);
    nodes.stop();
    assert.deepEqual(beats, ['a start', 'a', 'a']);
  });

  it('reaches a binding of its own node (or of no node) over its own flow, and one of another node through that node', async function () {
    const { nodes } = nodesWith([record('b', T0)]);
    await nodes.start();
    assert.deepEqual(nodes.targetOf(binding('a')), { uri: binding('a').contact, path: [], destination: { transport: 'tcp', address: '192.0.2.9', port: 40000, connectionId: 7 } });
    assert.deepEqual(nodes.targetOf(binding(null)), nodes.targetOf(binding('a')));
    const via = nodes.targetOf(binding('b'));
    assert.equal(via?.uri, binding('b').contact, 'the Request-URI stays the Contact');
    assert.match(via?.path?.[0] ?? '', /^<sip:10\.0\.0\.2:5060;transport=tcp;lr;tvf=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}>$/);
    assert.equal(via?.destination, undefined, 'sent to the Route: node b');
    // a UDP binding of node b is reached directly, as before
    assert.equal(nodes.targetOf(binding('b', null))?.path?.length, 0);
    nodes.stop();
  });

  it('reaches a TV behind a NAT registered over UDP on another node through that node (its NAT lets in only what comes from there), and the token names the UDP flow', async function () {
    const natted: Binding = {
      ...binding('b', null), contact: 'sip:c@10.1.2.3:5060', flow: { transport: 'udp', address: '192.0.2.9', port: 40000, connectionId: null },
    };
    const { nodes, clock } = nodesWith([record('b', T0)]);
    await nodes.start();
    const via = nodes.targetOf(natted);
    assert.equal(via?.uri, natted.contact);
    assert.match(via?.path?.[0] ?? '', /^<sip:10\.0\.0\.2:5060;transport=tcp;lr;tvf=/, 'through node b');
    // on our own node the same binding goes straight to the NAT's address
    assert.deepEqual(nodes.targetOf({ ...natted, node: 'a' })?.destination, { transport: 'udp', address: '192.0.2.9', port: 40000, connectionId: null });
    // a UDP binding whose Contact is its source (no NAT) is sent to directly, from any node
    const direct: Binding = { ...natted, contact: 'sip:c@192.0.2.9:40000' };
    assert.equal(nodes.targetOf(direct)?.path?.length, 0);
    // node b takes its token back as the UDP flow (no connection to check)
    const b = new Nodes({
      store: { heartbeat: async () => {}, listNodes: async () => [] }, clock, id: 'b', sipUri: null, heartbeatSeconds: 5, leaseSeconds: 20,
      key: new Uint8Array(32).fill(3), hasConnection: () => false,
    });
    assert.deepEqual(b.flowOf([via!.path![0].slice(1, -1)], natted.contact), { transport: 'udp', address: '192.0.2.9', port: 40000, connectionId: null });
    nodes.stop();
  });

  it('does not use a binding of a node whose lease ran out, or of a node other nodes cannot reach', async function () {
    const { nodes } = nodesWith([record('dead', T0 - 21_000), record('nouri', T0, null)]);
    await nodes.start();
    assert.equal(nodes.targetOf(binding('dead')), null);
    assert.equal(nodes.targetOf(binding('nouri')), null);
    assert.equal(nodes.targetOf(binding('unknown')), null);
    nodes.stop();
  });

  it('takes the token back only for the Contact it was made for, untampered, and says when the connection is gone', async function () {
    // node b makes the token for a binding on node a; node a (sharing the database's key) takes it back
    const a = nodesWith([]);
    const b = new Nodes({
      store: { heartbeat: async () => {}, listNodes: async () => [record('a', T0)] }, clock: a.clock, id: 'b', sipUri: null, heartbeatSeconds: 5,
      leaseSeconds: 20, key: new Uint8Array(32).fill(3), hasConnection: () => true,
    });
    await b.start();
    b.stop();
    const remote = binding('a');
    const route = b.targetOf(remote)!.path![0].slice(1, -1);
    assert.deepEqual(a.nodes.flowOf([route], remote.contact), { transport: 'tcp', address: '192.0.2.9', port: 40000, connectionId: 7 });
    assert.equal(a.nodes.flowOf([route], 'sip:other@192.0.2.9:40000;transport=tcp'), null, 'another Request-URI');
    const tampered = route.slice(0, -2) + (route.endsWith('AA') ? 'BB' : 'AA');
    assert.equal(a.nodes.flowOf([tampered], remote.contact), null, 'a tampered signature');
    assert.equal(a.nodes.flowOf(['sip:10.0.0.1:5060;lr'], remote.contact), null, 'no token');
    assert.equal(a.nodes.flowOf(undefined, remote.contact), null);
    const closed = nodesWith([], new Set());
    assert.equal(closed.nodes.flowOf([route], remote.contact), 'gone', 'the connection has closed: 430 (RFC 5626 §5.3)');
    const otherKey = new Nodes({
      store: { heartbeat: async () => {}, listNodes: async () => [] }, clock: a.clock, id: 'a', sipUri: null, heartbeatSeconds: 5, leaseSeconds: 20,
      key: new Uint8Array(32).fill(4), hasConnection: () => true,
    });
    assert.equal(otherKey.flowOf([route], remote.contact), null, 'another database\'s key');
  });
});
