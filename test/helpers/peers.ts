import type { Context } from 'mocha';

/**
 * A suite that needs a Debian peer (README, Tests): without it the suite says it was skipped, but where `.ci/run`
 * installed the peers (TVPHONE_TEST_PEERS=required) a missing one fails it, so CI never passes by skipping.
 */
export function needPeers(ctx: Context, present: boolean, what: string): void {
  if (present) return;
  if (process.env.TVPHONE_TEST_PEERS === 'required') throw new Error(`${what} missing: .ci/run installs it (README, Tests)`);
  ctx.skip();
}
