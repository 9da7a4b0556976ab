// bench/lib/cluster-model.ts: the arithmetic behind `npm run bench:sim`, on round figures worked out by hand.
import assert from 'node:assert/strict';
import { slope } from '../../../bench/lib/stats.ts';
import { plan, shortestRefreshForDb, maxTvsForDb, type NodeFigures, type Population } from '../../../bench/lib/cluster-model.ts';

const figures: NodeFigures = {
  regPerS: 1000, callPerS: 200, msgPerS: 500,
  // 10 % of a core for 20,000 connections, of which 20 refreshes/s (2 % of the node at 1000 REGISTER/s)
  idleCpuPctOfCore: 10, idleConnections: 20_000, idleRefreshPerS: 20,
  rssPerConnectionB: 10 * 1024, rssIdleKb: 100 * 1024,
  dbUsPerReg: 200, dbUsPerMsg: 400,
};
const population: Population = {
  tvs: 1_000_000, refreshS: 1000, callsPerS: 20, msgsPerS: 50, utilisation: 0.8,
  maxConnectionsPerNode: 100_000, nodeRamMb: 4096, dbCores: 2, writesPerReg: 1, writesPerMsg: 2, writesPerCall: 1,
};

describe('cluster model (bench:sim)', () => {
  it('adds the loads as shares of one node: keep-alives per connection, then each rate over its sustainable rate', () => {
    const p = plan(figures, population);
    assert.equal(p.regPerS, 1000);
    // keep-alives (0.10 − 0.02) × 50 = 4; REGISTER 1; calls 0.1; MESSAGE 0.1
    assert.ok(Math.abs(p.nodeLoads - 5.2) < 1e-9);
    assert.equal(p.nodesByCpu, 7); // 5.2 / 0.8 = 6.5
    assert.equal(p.nodesByConnections, 10);
    assert.equal(p.nodesByMemory, 3); // 9766 MB of connections in 3996 MB per node
    assert.equal(p.nodes, 10);
    assert.equal(p.limit, 'connections');
  });

  it('counts database writes per operation and the database CPU they cost', () => {
    const p = plan(figures, population);
    assert.equal(p.dbWritesPerS, 1000 + 100 + 20);
    assert.ok(Math.abs(p.dbCores! - 0.22) < 1e-9); // 1000 × 200 µs + 50 × 400 µs
    assert.equal(p.dbIsLimit, false);
    assert.equal(plan(figures, { ...population, refreshS: 100 }).dbIsLimit, true); // 2.02 cores > 1.6
  });

  it('finds where PostgreSQL becomes the limit: the shortest refresh interval and the most TVs it carries', () => {
    // budget 1.6 cores = 1,600,000 µs/s, less 20,000 for the messages: 1,580,000 µs/s for REGISTERs
    assert.ok(Math.abs(shortestRefreshForDb(figures, population)! - 200_000_000 / 1_580_000) < 1e-9);
    assert.equal(maxTvsForDb(figures, population), 7_900_000);
    assert.equal(shortestRefreshForDb({ ...figures, dbUsPerReg: null }, population), null);
    assert.equal(maxTvsForDb(figures, { ...population, msgsPerS: 10_000 }), 0);
  });
});

describe('bench statistics', () => {
  it('fits the least-squares slope of memory samples', () => {
    assert.equal(slope([[0, 100], [1, 102], [2, 104]]), 2);
    assert.equal(slope([[0, 5], [1, 7], [2, 5], [3, 7]]), 0.4);
    assert.equal(slope([[1, 1]]), null);
    assert.equal(slope([[1, 1], [1, 2]]), null);
  });
});
