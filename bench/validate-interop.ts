// Runs every sipp scenario of test/interop/sipp/ against Kamailio 5.6 (bench/kamailio/kamailio.cfg), which
// behaves the same way for them, so the XML itself is known-good before tvphone's interop tests use it.
//   node bench/validate-interop.ts                  Kamailio (no auth + msilo; a digest one for register-digest)
//   INTEROP_TARGET=127.0.0.1:PORT node bench/validate-interop.ts   an already running server (--auth none);
//                                                   register-digest is then skipped unless INTEROP_AUTH=user:pass
// Prints one line per scenario (PASS/FAIL) and exits 1 if any failed. Loopback only, every sipp bounded.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKamailio, type ServerHandle } from './lib/kamailio.ts';
import { freePort, LOOPBACK, sleep, stopAllOnSignal } from './lib/proc.ts';

stopAllOnSignal();
const DIR = new URL('../test/interop/sipp/', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'tvphone-interop-validate-'));

interface Sipp { done: Promise<number | null>; port: number }

async function sipp(target: string | null, scenario: string, args: string[], timeoutS = 10): Promise<Sipp> {
  const port = await freePort();
  const full = [
    ...(target ? [target] : []), '-sf', join(DIR, scenario), '-i', LOOPBACK, '-p', String(port), '-nostdin',
    '-timeout', `${timeoutS}s`, '-timeout_error', '-recv_timeout', String(timeoutS * 1000), '-m', '1', ...args,
  ];
  const p = spawn('sipp', full, { cwd: work, stdio: ['ignore', 'ignore', 'ignore'] });
  const kill = setTimeout(() => p.kill('SIGKILL'), (timeoutS + 10) * 1000);
  const done = new Promise<number | null>((r) => {
    p.once('error', () => r(null));
    p.once('close', (c) => { clearTimeout(kill); r(c); });
  });
  return { done, port };
}
const run = async (t: string | null, s: string, a: string[], timeoutS = 10): Promise<number | null> => (await sipp(t, s, a, timeoutS)).done;
const uas = async (s: string, a: string[], timeoutS = 15): Promise<Sipp> => {
  const u = await sipp(null, s, a, timeoutS);
  await sleep(300); // sipp binds at start
  return u;
};

const results: Array<[string, boolean, string]> = [];
const check = (name: string, rcs: Array<number | null>): void => {
  const ok = rcs.every((r) => r === 0);
  results.push([name, ok, `rc=${rcs.join(',')}`]);
  process.stdout.write(`${ok ? 'PASS' : 'FAIL'}  ${name}  (sipp rc ${rcs.join(',')})\n`);
};

async function suite(target: string, tag: string): Promise<void> {
  check('options.xml', [await run(target, 'options.xml', [])]);
  check('max-forwards-483.xml', [await run(target, 'max-forwards-483.xml', ['-s', `${tag}mf`])]);
  check('unknown-method.xml', [await run(target, 'unknown-method.xml', [])]);
  check('unregister.xml', [await run(target, 'unregister.xml', ['-s', `${tag}un`])]);
  check('query.xml', [await run(target, 'query.xml', ['-s', `${tag}q`])]);

  { // call: callee UAS, register it, call it
    const u = await uas('call-uas.xml', []);
    const reg = await run(target, 'register.xml', ['-s', `${tag}callee`, '-key', 'contact_hostport', `${LOOPBACK}:${u.port}`]);
    const c = await run(target, 'call-uac.xml', ['-s', `${tag}callee`, '-d', '200']);
    check('register.xml + call-uac.xml + call-uas.xml', [reg, c, await u.done]);
  }
  { // CANCEL
    const u = await uas('cancel-uas.xml', []);
    const reg = await run(target, 'register.xml', ['-s', `${tag}ringer`, '-key', 'contact_hostport', `${LOOPBACK}:${u.port}`]);
    const c = await run(target, 'cancel-uac.xml', ['-s', `${tag}ringer`]);
    check('cancel-uac.xml + cancel-uas.xml', [reg, c, await u.done]);
  }
  { // store and forward: 3 MESSAGEs to an offline user, then it registers and receives them
    const user = `${tag}offline`;
    const m = await run(target, 'message-offline.xml', ['-s', user, '-m', '3', '-r', '10']);
    const u = await uas('message-receiver.xml', ['-m', '3']);
    const reg = await run(target, 'register.xml', ['-s', user, '-key', 'contact_hostport', `${LOOPBACK}:${u.port}`]);
    check('message-offline.xml (x3) + register.xml + message-receiver.xml (-m 3)', [m, reg, await u.done]);
  }
}

let failed = false;
const servers: ServerHandle[] = [];
try {
  const tag = `v${process.pid}`;
  const given = process.env['INTEROP_TARGET'];
  if (given) {
    await suite(given, tag);
    const auth = process.env['INTEROP_AUTH'];
    if (auth) {
      const [u, p] = auth.split(':') as [string, string];
      check('register-digest.xml', [await run(given, 'register-digest.xml', ['-s', u, '-au', u, '-ap', p])]);
    }
  } else {
    const k = await startKamailio({ msilo: true, children: 1 });
    servers.push(k);
    await suite(k.target, tag);
    const ka = await startKamailio({ authUsers: 5, children: 1 });
    servers.push(ka);
    check('register-digest.xml', [await run(ka.target, 'register-digest.xml', ['-s', 'a0000002', '-au', 'a0000002', '-ap', 'pw'])]);
    // and the challenge is really checked: a wrong password must fail the scenario
    const wrong = await run(ka.target, 'register-digest.xml', ['-s', 'a0000003', '-au', 'a0000003', '-ap', 'wrong'], 4);
    check('register-digest.xml with a wrong password fails (negative control)', [wrong === 0 ? 1 : 0]);
  }
} finally {
  for (const s of servers) await s.stop();
  rmSync(work, { recursive: true, force: true });
}
failed = results.some((r) => !r[1]);
process.stdout.write(`${results.filter((r) => r[1]).length}/${results.length} passed\n`);
process.exitCode = failed ? 1 : 0;
