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

export interface KamailioCarrier {
  port: number;
  /** the contacts Kamailio holds for CARRIER_USER (kamcmd ul.dump) */
  contacts(): { uri: string; expires: number }[];
  start(): Promise<void>;
  stop(): Promise<void>;
  /** stop, and remove the work folder */
  close(): Promise<void>;
  log(): string;
}

function config(algorithm: 'MD5' | 'SHA-256', ctl: string): string {
  return `#!KAMAILIO
debug=2
log_stderror=yes
children=1
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
modparam("ctl", "binrpc", "unix:${ctl}")
modparam("auth", "algorithm", "${algorithm}")
modparam("usrloc", "db_mode", 0)
modparam("registrar", "max_expires", 10)
modparam("registrar", "min_expires", 1)
modparam("registrar", "default_expires", 10)
request_route {
  if (is_method("OPTIONS")) { sl_send_reply("200", "OK"); exit; }
  if (!is_method("REGISTER")) { sl_send_reply("403", "Only REGISTER here"); exit; }
  if (!pv_www_authenticate("${CARRIER_REALM}", "${CARRIER_PASSWORD}", "0") || $au != "${CARRIER_USER}") {
    www_challenge("${CARRIER_REALM}", "1");
    exit;
  }
  xlog("L_INFO", "carrier: REGISTER of $au with $ct, Expires $hdr(Expires)\\n");
  if (!save("location")) sl_reply_error();
  exit;
}
`;
}

export async function kamailioCarrier(o: { port: number; algorithm: 'MD5' | 'SHA-256' }): Promise<KamailioCarrier> {
  const dir = mkdtempSync(join(tmpdir(), 'tvphone-carrier-'));
  const ctl = join(dir, 'ctl');
  const cfg = join(dir, 'kamailio.cfg');
  const logFile = join(dir, 'kamailio.log');
  writeFileSync(cfg, config(o.algorithm, ctl));
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
