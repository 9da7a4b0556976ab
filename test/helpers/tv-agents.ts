// Two TV agents, 1001 and 1002, and a server with the shipped default profile, for the video suites: the server and a
// temp dir made before each test, the agents stopped and both removed after it. Call inside a describe().
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TvAgent, type TvAgentOptions } from '../../src/terminal/tv-agent.ts';
import type { TestServer } from './test-server.ts';
import { startDefaultProfileServer } from './default-profile-server.ts';

/** what the suite gives the default-profile server (its log, voicemail changes …) */
type ServerOptions = NonNullable<Parameters<typeof startDefaultProfileServer>[0]>;

export interface TvAgents {
  /** the running server (set before each test) */
  readonly srv: TestServer;
  /** the test's temp dir */
  readonly dir: string;
  /** a TV agent of user 1001 (password pw1) or 1002 (pw2) on the server, stopped after the test */
  agent(user: '1001' | '1002', o?: Partial<TvAgentOptions>): TvAgent;
}

export function useTvAgents(o: { dirPrefix: string; server?: () => ServerOptions }): TvAgents {
  let srv: TestServer | undefined;
  let dir: string | undefined;
  const agents: TvAgent[] = [];
  beforeEach(async () => {
    srv = await startDefaultProfileServer(o.server?.() ?? {});
    await srv.addUser('1001', 'pw1');
    await srv.addUser('1002', 'pw2');
    dir = mkdtempSync(join(tmpdir(), o.dirPrefix));
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.stop();
    await srv?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return {
    get srv() { return srv as TestServer; },
    get dir() { return dir as string; },
    agent(user, opts = {}) {
      const a = new TvAgent({
        user, password: user === '1001' ? 'pw1' : 'pw2', server: `sip:127.0.0.1:${(srv as TestServer).tcp.port}`, localIp: '127.0.0.1',
        downloadDir: join(dir as string, user), rtcpIntervalMs: 300, timerValues: { t1: 100, t2: 400, t4: 500 }, ...opts,
      });
      agents.push(a);
      return a;
    },
  };
}
