// `npm run build`, also npm's `prepare` (run by npm ci, npm install in a checkout, npm pack, npm publish and
// git installs): compiles src/ into dist/ with tsconfig.build.json, from a clean dist/ so a removed source
// leaves no stale module behind. A production install of a checkout (`npm ci --omit=dev`) has no TypeScript
// compiler: it says so and leaves dist/ unbuilt rather than failing the install; anything else without one fails.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  const install = ['ci', 'install'].includes(process.env.npm_command ?? '');
  process.stderr.write(`tvphone build: no TypeScript compiler (devDependencies omitted?): dist/ ${install
    ? 'not built; bin/tvphone runs src/ with Node >= 22.18 type stripping' : 'cannot be built'}\n`);
  process.exit(install ? 0 : 1);
}
rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
