#!/usr/bin/env node
// Makes the publishable package in pack/ (and, with --tarball DIR, its .tgz there): one ES module
// with the @conveyor/* code it uses bundled in, declarations that name no @conveyor/* module, and
// a package.json whose dependencies are only public libraries. The monorepo itself uses dist/
// (tsc), so its services and the SDK share one copy of @conveyor/platform; `make build` first.
import { execFileSync } from 'node:child_process';
import { builtinModules } from 'node:module';
import { mkdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import process from 'node:process';
import { rolldown } from 'rolldown';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'pack');
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const INTERNAL = /^@conveyor\//;
const libraries = Object.fromEntries(Object.entries(manifest.dependencies).filter(([name]) => !INTERNAL.test(name)));
const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
const packageOf = (id) => (id.startsWith('@') ? id.split('/').slice(0, 2).join('/') : id.split('/')[0]);
const isLibrary = (id) => !id.startsWith('.') && !path.isAbsolute(id) && !INTERNAL.test(id);

rmSync(out, { recursive: true, force: true });
mkdirSync(out);

const bundle = await rolldown({
  input: path.join(root, 'dist/index.js'),
  platform: 'node',
  external: (id) => builtins.has(id) || isLibrary(id),
  // The @conveyor/* barrels re-export modules this package never calls (Kafka clients, say): no
  // module runs for its side effects alone, so an unused one leaves no import of its library behind.
  treeshake: { moduleSideEffects: false },
});
const { output } = await bundle.write({ file: path.join(out, 'index.js'), format: 'esm', sourcemap: false });
await bundle.close();

// Every library the bundle still imports must be a declared dependency, or an install breaks.
const code = output.map((chunk) => (chunk.type === 'chunk' ? chunk.code : '')).join('\n');
const specifiers = [...code.matchAll(/^import\s+(?:[^'"]*\s+from\s+)?["']([^"']+)["'];?$/gm)].map((m) => m[1]);
const imported = new Set(specifiers.filter((id) => !builtins.has(id)).map(packageOf));
const undeclared = [...imported].filter((name) => !(name in libraries));
if (undeclared.length) throw new Error(`the bundle imports undeclared packages: ${undeclared.join(', ')} (add them to dependencies)`);

// Declarations: tsc's, with the two @conveyor/* modules they name replaced. The handler contract
// comes from packages/jobs (job-type.d.ts, shipped as handler.d.ts); Logger and Pool are pino's and
// pg's. Anything else naming @conveyor/* fails the pack: the example's build (skipLibCheck off)
// type-checks the result as a team's project would.
const jobsTypes = path.join(root, '../jobs/dist/types/job-type.d.ts');
const rewrite = (text) =>
  text
    .replace(/^\/\/# sourceMappingURL=.*$/m, '')
    .replace("import { type Logger } from '@conveyor/platform';", "import type { Logger } from 'pino';")
    .replace("import type { Logger, Pool } from '@conveyor/platform';", "import type { Logger } from 'pino';\nimport type pg from 'pg';\ntype Pool = pg.Pool;")
    .replaceAll("from '@conveyor/jobs'", "from './handler.js'");
const declarations = { 'index.d.ts': 'dist/index.d.ts', 'job-type.d.ts': 'dist/job-type.d.ts', 'run-worker.d.ts': 'dist/run-worker.d.ts' };
for (const [name, source] of [...Object.entries(declarations), ['handler.d.ts', jobsTypes]]) {
  const text = rewrite(readFileSync(path.isAbsolute(source) ? source : path.join(root, source), 'utf8'));
  if (text.includes('@conveyor/')) throw new Error(`${name} still names an @conveyor/* module: extend the rewrite in scripts/pack.mjs`);
  writeFileSync(path.join(out, name), text);
}

const published = {
  name: manifest.name,
  version: manifest.version,
  type: 'module',
  description: manifest.description,
  license: manifest.license,
  engines: manifest.engines,
  main: 'index.js',
  types: 'index.d.ts',
  exports: { '.': { types: './index.d.ts', default: './index.js' } },
  // What the bundle imports, and the packages its declarations name (types only).
  dependencies: Object.fromEntries([...imported, '@standard-schema/spec', '@types/pg'].sort().map((name) => [name, libraries[name]])),
};
writeFileSync(path.join(out, 'package.json'), `${JSON.stringify(published, null, 2)}\n`);
copyFileSync(path.join(root, 'README.md'), path.join(out, 'README.md'));

const tarballDir = process.argv.includes('--tarball') ? process.argv[process.argv.indexOf('--tarball') + 1] : undefined;
if (tarballDir) {
  const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', tarballDir], { cwd: out, encoding: 'utf8' }).trim();
  process.stdout.write(`${path.join(tarballDir, name)}\n`);
} else {
  process.stdout.write(`${out}\n`);
}
