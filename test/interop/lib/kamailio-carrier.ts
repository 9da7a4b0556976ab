// Kamailio 5.6 as a carrier's registrar, for the trunk interop test: a config written here (REGISTER needs digest
// for user "acct", password "secret", realm "carrier.test"; usrloc in memory; OPTIONS answered 200), on a fixed
// loopback port so that it can be stopped and started again at the same address. kamcmd reads its usrloc.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOOPBACK } from './proc.ts';

export const CARRIER_USER = 'acct';
export const CARRIER_PASSWORD = 'secret';
export const CARRIER_REALM = 'carrier.test';
/** calls mode: the carrier's subscriber (a "PSTN" phone that registers as user pstn, no auth) and the numbers it serves */
export const PSTN_NUMBER = '+49301234567';
export const CARRIER_DID = '+4930555';

export interface KamailioCarrier {
  port: number;
  /** the contacts Kamailio holds for CARRIER_USER (kamcmd ul.dump) */
  contacts(): { uri: string; expires: number }[];
  /** the whole log (calls mode logs each INVITE it sees) */
  fullLog(): string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** stop, and remove the work folder */
  close(): Promise<void>;
  log(): string;
}

/**
 * calls mode: INVITEs from the trunk's account need proxy digest (407, RFC 3261 §22.3) and go to the PSTN phone when
 * they dial PSTN_NUMBER; an INVITE for CARRIER_DID goes to the Contact the account registered (tvphone's trunk-NAME).
 * Record-Route keeps the carrier in the dialog, as carriers' SBCs do.
 */
const CALLS_ROUTE = `
  if (has_totag()) {
    if (loose_route() || is_method("ACK")) { t_relay(); exit; }
    sl_send_reply("404", "Not here"); exit;
  }
  if (is_method("CANCEL")) { if (t_check_trans()) t_relay(); exit; }
  if (is_method("REGISTER") && $fU == "pstn") { if (!save("location")) sl_reply_error(); exit; }
  if (is_method("INVITE") && $rU == "${CARRIER_DID}") {
    xlog("L_INFO", "carrier: INVITE to DID $rU from $fU\\n");
    record_route();
    $ru = "sip:${CARRIER_USER}@${CARRIER_REALM}";
    if (!lookup("location")) { sl_send_reply("480", "Trunk not registered"); exit; }
    t_relay(); exit;
  }
  if (is_method("INVITE")) {
    if (!pv_proxy_authenticate("${CARRIER_REALM}", "${CARRIER_PASSWORD}", "0") || $au != "${CARRIER_USER}") {
      xlog("L_INFO", "carrier: challenging INVITE $rU cseq $cs\\n");
      proxy_challenge("${CARRIER_REALM}", "1");
      exit;
    }
    consume_credentials();
    xlog("L_INFO", "carrier: INVITE $rU authenticated as $au, From $fu, cseq $cs\\n");
    if ($rU != "${PSTN_NUMBER}") { sl_send_reply("404", "No such number"); exit; }
    record_route();
    $rU = "pstn";
    if (!lookup("location")) { sl_send_reply("480", "PSTN phone not registered"); exit; }
    t_relay(); exit;
  }
`;

function config(algorithm: 'MD5' | 'SHA-256', ctl: string, calls: boolean, o: { anyAccount: boolean; maxExpires: number; children: number }): string {
  return `#!KAMAILIO
debug=2
log_stderror=yes
children=${o.children}
tcp_children=1
rev_dns=no
auto_aliases=no
user_agent_header="User-Agent: kamailio-carrier"
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
loadmodule "ctl.so"
loadmodule "xlog.so"
loadmodule "textops.so"
${calls ? 'loadmodule "rr.so"\nloadmodule "siputils.so"\n' : ''}modparam("ctl", "binrpc", "unix:${ctl}")
modparam("auth", "algorithm", "${algorithm}")
modparam("usrloc", "db_mode", 0)
modparam("registrar", "max_expires", ${o.maxExpires})
modparam("registrar", "min_expires", 1)
modparam("registrar", "default_expires", 10)
request_route {
  if (is_method("OPTIONS")) { sl_send_reply("200", "OK"); exit; }
${calls ? CALLS_ROUTE : ''}  if (!is_method("REGISTER")) { sl_send_reply("403", "Only REGISTER here"); exit; }
  if (!pv_www_authenticate("${CARRIER_REALM}", "${CARRIER_PASSWORD}", "0") || ${o.anyAccount ? '$au != $tU' : `$au != "${CARRIER_USER}"`}) {
    www_challenge("${CARRIER_REALM}", "1");
    exit;
  }
  xlog("L_INFO", "carrier: REGISTER of $au with $ct, Expires $hdr(Expires)\\n");
  if (!save("location")) sl_reply_error();
  exit;
}
`;
}

/**
 * `anyAccount`: every account (user = digest username) with CARRIER_PASSWORD may register (the 500-trunk bench);
 * `maxExpires` (default 10) caps what it grants
 */
export async function kamailioCarrier(o: {
  port: number; algorithm: 'MD5' | 'SHA-256'; calls?: boolean; anyAccount?: boolean; maxExpires?: number; children?: number; quiet?: boolean;
}): Promise<KamailioCarrier> {
  const dir = mkdtempSync(join(tmpdir(), 'tvphone-carrier-'));
  const ctl = join(dir, 'ctl');
  const cfg = join(dir, 'kamailio.cfg');
  const logFile = join(dir, 'kamailio.log');
  writeFileSync(cfg, config(o.algorithm, ctl, o.calls === true, { anyAccount: o.anyAccount === true, maxExpires: o.maxExpires ?? 10, children: o.children ?? 1 })
    .replace(o.quiet ? /\n  xlog\("L_INFO", "carrier: REGISTER[^\n]*/ : /(?!)/, ''));
  const args = ['-f', cfg, '-DD', '-E', '-m', '32', '-M', '8', '-l', `udp:${LOOPBACK}:${o.port}`, '-l', `tcp:${LOOPBACK}:${o.port}`];
  const check = spawnSync('kamailio', [...args, '-c'], { encoding: 'utf8', timeout: 15_000 });
  if (check.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`kamailio config check failed:\n${(check.stderr ?? '').split('\n').slice(-15).join('\n')}`);
  }
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();

  const rpc = (...cmd: string[]): string => {
    const r = spawnSync('kamcmd', ['-s', `unix:${ctl}`, ...cmd], { encoding: 'utf8', timeout: 5_000 });
    if (r.status !== 0) throw new Error(`kamcmd ${cmd.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  const handle: KamailioCarrier = {
    port: o.port,
    contacts() {
      const out = rpc('ul.dump');
      const list: { uri: string; expires: number }[] = [];
      // kamcmd prints the usrloc as nested "Contact: { Address: ..., Expires: ... }" blocks
      const aor = out.indexOf(`AoR: ${CARRIER_USER}`);
      if (aor < 0) return list;
      const re = /Address:\s*(\S+)[\s\S]*?Expires:\s*(-?\d+)/g;
      re.lastIndex = aor;
      for (let m = re.exec(out), i = 0; m !== null && i < 50; m = re.exec(out), i++) list.push({ uri: m[1], expires: Number(m[2]) });
      return list;
    },
    async start() {
      const fd = openSync(logFile, 'a');
      const c = spawn('kamailio', args, { stdio: ['ignore', fd, fd] });
      closeSync(fd);
      child = c;
      exited = new Promise((r) => c.once('exit', () => r()));
      // ready when the ctl socket answers
      for (let i = 0; i < 100; i++) {
        try {
          rpc('core.version');
          return;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      throw new Error(`kamailio did not start:\n${handle.log()}`);
    },
    async stop() {
      const c = child;
      child = null;
      if (c === null || c.exitCode !== null) return;
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    },
    async close() {
      await handle.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    fullLog() {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
    log() {
      try {
        return readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n');
      } catch {
        return '';
      }
    },
  };
  await handle.start();
  return handle;
}
