// Interop of tvphone's outbound trunk registration (RFC 3261 §10.2) with Kamailio 5.6 as the carrier's registrar
// (test/interop/lib/kamailio-carrier.ts: digest on REGISTER, usrloc in memory, grants at most 10 s): tvphone
// registers over TCP with digest, refreshes before the 10 s lapse, backs off while Kamailio is down, registers
// again when it is back, de-registers at close; `tvphone trunks status --json` (through GET /trunks) shows each
// state. Once with MD5 and once with SHA-256 (Kamailio 5.6's auth modparam "algorithm": one algorithm per instance).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort } from '../../bench/lib/proc.ts';
import type { TrunkStatusRow } from '../../src/trunks/trunks.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';
import { pollUntil } from '../helpers/until.ts';
import { CARRIER_PASSWORD, CARRIER_REALM, CARRIER_USER, kamailioCarrier, type KamailioCarrier } from './lib/kamailio-carrier.ts';
import { installed } from './lib/proc.ts';
import { needPeers } from '../helpers/peers.ts';

const CLI = new URL('../../bin/tvphone', import.meta.url).pathname;

describe('interop: a trunk registering to Kamailio 5.6 (carrier registrar with digest)', function () {
  this.timeout(90_000);
  let kam: KamailioCarrier | null = null;
  let ts: TestServer | null = null;

  before(function () {
    needPeers(this, installed('kamailio') && installed('kamcmd'), 'kamailio');
  });

  afterEach(async () => {
    await ts?.close();
    ts = null;
    await kam?.close();
    kam = null;
  });

  async function start(algorithm: 'MD5' | 'SHA-256'): Promise<{ admin: string; status: () => Promise<TrunkStatusRow> }> {
    const port = await freePort();
    kam = await kamailioCarrier({ port, algorithm });
    ts = await startTestServer({
      profile: {
        admin: { listen: '127.0.0.1:0' },
        trunks: [{
          name: 'carrier', host: '127.0.0.1', port, transport: 'tcp', username: CARRIER_USER, password: CARRIER_PASSWORD, realm: CARRIER_REALM,
          register: true, expires: 60, retrySeconds: 1, forbiddenRetrySeconds: 60, ping: 5,
        }],
      },
    });
    const admin = `127.0.0.1:${ts.server.admin!.address.port}`;
    return {
      admin,
      status: async () => ((await (await fetch(`http://${admin}/trunks`)).json()) as TrunkStatusRow[])[0],
    };
  }

  /** `tvphone trunks status --json` against the running server (in this process: the CLI must not block it) */
  async function cliStatus(admin: string): Promise<TrunkStatusRow> {
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'trunks', 'status', '--json', '--admin', admin], { encoding: 'utf8', timeout: 20_000 });
    return (JSON.parse(stdout) as TrunkStatusRow[])[0];
  }

  it('registers with MD5 digest, refreshes, backs off while Kamailio is down, registers again after its restart, de-registers at close', async () => {
    const { admin, status } = await start('MD5');
    const t0 = Date.now();
    const reged = await pollUntil(status, (s) => s.state === 'REGED', 10_000);
    const firstMs = Date.now() - t0;
    assert.equal(reged.lastStatus, 200);
    const contact = `sip:trunk-carrier@127.0.0.1:${ts!.tcp.port};transport=tcp`;
    const binding = kam!.contacts();
    assert.equal(binding.length, 1, `Kamailio's usrloc: ${JSON.stringify(binding)}`);
    assert.equal(binding[0].uri, contact);
    assert.ok(binding[0].expires <= 10, 'Kamailio granted at most its max_expires (10 s), not the 60 asked');
    const expiresIn = Date.parse(reged.expiresAt!) - Date.now();
    assert.ok(expiresIn > 5_000 && expiresIn <= 10_500, `the expiry follows the 200's Contact expires: ${expiresIn} ms`);
    const cli = await cliStatus(admin);
    assert.deepEqual([cli.name, cli.state, cli.carrier], ['carrier', 'REGED', `tcp:127.0.0.1:${kam!.port}`]);

    // RFC 3261 §10.2.4: refreshed at 80 % of 10 s, so the binding never lapses
    const refreshed = await pollUntil(status, (s) => s.registrations >= 2, 12_000);
    assert.equal(refreshed.state, 'REGED');
    assert.equal(kam!.contacts().length, 1);
    await pollUntil(status, (s) => s.ping === 'up', 8_000);
    const metrics = await (await fetch(`http://${admin}/metrics`)).text();
    assert.match(metrics, /tvphone_trunk_up\{trunk="carrier"\} 1/);
    assert.match(metrics, /tvphone_trunk_registrations_total\{trunk="carrier"\} [2-9]/);

    // Kamailio stops: the TCP connection closes, tvphone tries again and backs off (1 s, 2 s, 4 s …)
    await kam!.stop();
    const failed = await pollUntil(status, (s) => s.state === 'FAILED' && s.failures >= 2, 10_000);
    assert.equal(failed.lastStatus, 408);
    assert.ok(failed.nextAttemptAt !== null);
    const down = await cliStatus(admin);
    assert.equal(down.state, 'FAILED');
    assert.ok(down.failures >= 2);
    const failMetrics = await (await fetch(`http://${admin}/metrics`)).text();
    assert.match(failMetrics, /tvphone_trunk_up\{trunk="carrier"\} 0/);

    // back (empty usrloc: memory only): the next retry registers again
    await kam!.start();
    assert.equal(kam!.contacts().length, 0);
    const back = Date.now();
    const again = await pollUntil(status, (s) => s.state === 'REGED', 15_000);
    const backMs = Date.now() - back;
    assert.equal(kam!.contacts()[0]?.uri, contact);
    assert.ok(again.failures >= 2);
    console.log(`      first REGED after ${firstMs} ms; after Kamailio's restart REGED again within ${backMs} ms; failures ${again.failures}`);

    // RFC 3261 §10.2.2: close de-registers (Expires: 0)
    await ts!.close();
    ts = null;
    assert.deepEqual(kam!.contacts(), []);
  });

  it('registers with SHA-256 digest (RFC 8760) when the carrier challenges with it', async () => {
    const { status } = await start('SHA-256');
    const reged = await pollUntil(status, (s) => s.state === 'REGED' || s.state === 'FAILED', 10_000);
    assert.equal(reged.state, 'REGED', `last ${reged.lastStatus} ${reged.lastReason}\n${kam!.log()}`);
    assert.equal(kam!.contacts().length, 1);
  });

  it('a wrong password: FAILED with Kamailio\'s last status and a next attempt', async () => {
    const port = await freePort();
    kam = await kamailioCarrier({ port, algorithm: 'MD5' });
    ts = await startTestServer({
      profile: {
        admin: { listen: '127.0.0.1:0' },
        trunks: [{ name: 'carrier', host: '127.0.0.1', port, transport: 'udp', username: CARRIER_USER, password: 'wrong', realm: CARRIER_REALM, register: true, retrySeconds: 30 }],
      },
    });
    const admin = `127.0.0.1:${ts.server.admin!.address.port}`;
    const s = await pollUntil(async () => ((await (await fetch(`http://${admin}/trunks`)).json()) as TrunkStatusRow[])[0], (r) => r.state === 'FAILED', 10_000);
    assert.equal(s.lastStatus, 401, 'Kamailio challenges again: the credentials are wrong');
    assert.ok(Date.parse(s.nextAttemptAt!) - Date.now() > 20_000, 'the next attempt waits retrySeconds');
    assert.deepEqual(kam!.contacts(), []);
  });
});
