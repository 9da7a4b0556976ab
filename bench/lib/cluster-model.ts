// The arithmetic of bench/cluster-sim.ts: from figures measured on one node (the bench's JSON lines), how many nodes
// and how many database writes a population of TVs needs, and where the database becomes the limit. Pure functions,
// checked by test/unit/bench/cluster-model.test.ts.

/** What one node was measured to do (npm run bench), and what one database server was measured to spend. */
export interface NodeFigures {
  /** sustainable REGISTER/s of one node on PostgreSQL */
  regPerS: number;
  /** sustainable proxied calls/s of one node */
  callPerS: number;
  /** sustainable MESSAGE/s (stored for an offline TV) of one node on PostgreSQL */
  msgPerS: number;
  /** a node's CPU for keep-alive + refresh traffic, % of one core, over `idleConnections` connections … */
  idleCpuPctOfCore: number;
  /** … measured with this many registered connections, which sent this many refresh REGISTERs/s in the window */
  idleConnections: number;
  idleRefreshPerS: number;
  /** server RSS per registered TCP connection, bytes, and the idle server's RSS, kB */
  rssPerConnectionB: number;
  rssIdleKb: number;
  /** PostgreSQL backend CPU per REGISTER / per MESSAGE, µs (null: not measured) */
  dbUsPerReg: number | null;
  dbUsPerMsg: number | null;
}

/** The population and the deployment's limits. */
export interface Population {
  tvs: number;
  /** registration refresh interval, s (a REGISTER per TV per interval) */
  refreshS: number;
  /** calls/s and MESSAGE/s over the whole population (busy hour) */
  callsPerS: number;
  msgsPerS: number;
  /** a node is planned at this share of its sustainable load (0.8: headroom for bursts and a node's loss) */
  utilisation: number;
  /** connections one node may hold (its transport.maxConnections, within its open-file limit) */
  maxConnectionsPerNode: number;
  /** RAM a node may use, MB */
  nodeRamMb: number;
  /** the database server's cores for tvphone's backends */
  dbCores: number;
  /** database write statements per REGISTER refresh, per MESSAGE (stored, then deleted on delivery), per call */
  writesPerReg: number;
  writesPerMsg: number;
  writesPerCall: number;
}

export interface Plan {
  regPerS: number;
  /** one node's capacities the whole load needs: keep-alive CPU share + Σ rate / sustainable rate */
  nodeLoads: number;
  nodesByCpu: number;
  nodesByConnections: number;
  nodesByMemory: number;
  nodes: number;
  /** which of cpu / connections / memory sets `nodes` */
  limit: 'cpu' | 'connections' | 'memory';
  dbWritesPerS: number;
  /** database CPU, cores (null when the per-operation database CPU was not measured) */
  dbCores: number | null;
  /** true when dbCores exceeds the database's cores at the planned utilisation */
  dbIsLimit: boolean | null;
}

/** The nodes and database work for `p` with nodes as measured in `f`. */
export function plan(f: NodeFigures, p: Population): Plan {
  const regPerS = p.tvs / p.refreshS;
  // keep-alives: the idle window's CPU less its refreshes' share, per connection; refreshes at their own rate
  const keepAliveShare = Math.max(0, f.idleCpuPctOfCore / 100 - f.idleRefreshPerS / f.regPerS) * (p.tvs / f.idleConnections);
  const nodeLoads = keepAliveShare + regPerS / f.regPerS + p.callsPerS / f.callPerS + p.msgsPerS / f.msgPerS;
  const nodesByCpu = Math.max(1, Math.ceil(nodeLoads / p.utilisation - 1e-9));
  const nodesByConnections = Math.max(1, Math.ceil(p.tvs / p.maxConnectionsPerNode));
  // each node: its idle RSS plus its share of the connections within nodeRamMb
  const freeMb = p.nodeRamMb - f.rssIdleKb / 1024;
  const nodesByMemory = freeMb <= 0 ? Infinity : Math.max(1, Math.ceil((p.tvs * f.rssPerConnectionB) / (1024 * 1024) / freeMb - 1e-9));
  const nodes = Math.max(nodesByCpu, nodesByConnections, nodesByMemory);
  const limit = nodes === nodesByCpu ? 'cpu' : nodes === nodesByConnections ? 'connections' : 'memory';
  const dbWritesPerS = regPerS * p.writesPerReg + p.msgsPerS * p.writesPerMsg + p.callsPerS * p.writesPerCall;
  const dbCores = f.dbUsPerReg === null ? null : (regPerS * f.dbUsPerReg + p.msgsPerS * (f.dbUsPerMsg ?? f.dbUsPerReg)) / 1e6;
  return {
    regPerS, nodeLoads, nodesByCpu, nodesByConnections, nodesByMemory, nodes, limit, dbWritesPerS, dbCores,
    dbIsLimit: dbCores === null ? null : dbCores > p.dbCores * p.utilisation,
  };
}

/**
 * The shortest refresh interval the database carries for this population (its CPU at the planned utilisation, the
 * messages' share taken first); null when the database CPU per operation was not measured, Infinity when the
 * messages alone exceed it.
 */
export function shortestRefreshForDb(f: NodeFigures, p: Population): number | null {
  if (f.dbUsPerReg === null) return null;
  const budgetUs = p.dbCores * p.utilisation * 1e6 - p.msgsPerS * (f.dbUsPerMsg ?? f.dbUsPerReg);
  if (budgetUs <= 0) return Infinity;
  return (p.tvs * f.dbUsPerReg) / budgetUs;
}

/** The largest population the database carries at refresh interval `p.refreshS` (same budget as above). */
export function maxTvsForDb(f: NodeFigures, p: Population): number | null {
  if (f.dbUsPerReg === null) return null;
  const budgetUs = p.dbCores * p.utilisation * 1e6 - p.msgsPerS * (f.dbUsPerMsg ?? f.dbUsPerReg);
  return budgetUs <= 0 ? 0 : Math.floor((budgetUs * p.refreshS) / f.dbUsPerReg);
}
