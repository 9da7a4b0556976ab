// The second pass of `npm test`: the server's integration suites again on PostgreSQL (issue: "the whole integration
// suite of the server runs once on SQLite and once on PostgreSQL"). CI exports TVPHONE_TEST_PG_URL (.ci/run); without it
// the pass is skipped and says so.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const suites = ['test/integration/server', 'test/integration/offline', 'test/integration/presence', 'test/integration/faults', 'test/integration/tv']
  .filter((d) => existsSync(d)).map((d) => `${d}/**/*.test.ts`);
if (!process.env.TVPHONE_TEST_PG_URL) {
  console.log('PostgreSQL pass skipped: TVPHONE_TEST_PG_URL is not set (.ci/run starts PostgreSQL and sets it)');
  process.exit(0);
}
console.log(`PostgreSQL pass: ${suites.join(' ')}`);
const r = spawnSync(process.execPath, ['node_modules/mocha/bin/mocha.js', '--no-config', '--timeout', '30000', ...suites], {
  stdio: 'inherit', env: { ...process.env, TVPHONE_TEST_STORE: 'postgres' },
});
process.exit(r.status ?? 1);
