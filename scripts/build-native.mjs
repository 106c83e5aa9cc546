// Builds the native kernels (native/, an N-API addon over OpenBLAS) with node-gyp, offline.
// Runs as the package's `install` script, so it never fails: when OpenBLAS or a compiler is
// missing, or the build fails, it prints one line saying how to get the fast kernels and
// exits 0 (the engine then uses the plain TypeScript kernels).
//
//   node scripts/build-native.mjs [--verbose] [--strict]
//     --verbose  show node-gyp's and the compiler's output
//     --strict   exit 1 when the addon could not be built (for CI)
//   YOLLAVA_SKIP_NATIVE=1 skips the build.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findOpenBlas } from '../native/find-openblas.mjs';

const verbose = process.argv.includes('--verbose');
const strict = process.argv.includes('--strict');
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
const builtAddon = join(nativeDir, 'build', 'Release', 'yollava_native.node');
const howToGet = 'apt-get install libopenblas-dev && npm run build:native';

function unavailable(reason) {
  console.log(`yollava: fast native kernels unavailable (${reason}); to get them: ${howToGet}`);
  process.exit(strict ? 1 : 0);
}

/** node-gyp's entry script: npm's own (npm passes it to install scripts), a local one, or the one bundled with npm. */
function findNodeGyp() {
  const candidates = [process.env.npm_config_node_gyp];
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not a dependency: fall back to npm's copy
  }
  if (process.env.npm_execpath) {
    candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  const prefix = join(dirname(process.execPath), '..');
  candidates.push(join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push(join(dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  return candidates.find((path) => path && existsSync(path));
}

/** The install prefix whose include/node has this Node's headers, so node-gyp needs no download. */
function findNodeHeaders() {
  const prefix = join(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

function hasCommand(command) {
  return spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0;
}

if (process.env.YOLLAVA_SKIP_NATIVE === '1') unavailable('YOLLAVA_SKIP_NATIVE=1');
if (process.platform === 'win32') unavailable('the native build supports Linux and macOS only');

const blas = findOpenBlas();
if ('missing' in blas) unavailable(blas.missing);
if (!hasCommand(process.env.CC || 'cc') || !hasCommand('make')) unavailable('a C compiler (cc) and make are needed');
const nodeGyp = findNodeGyp();
if (!nodeGyp) unavailable('node-gyp was not found');

// configure + build, not rebuild: a failed build then leaves a working addon from an earlier
// build in place (rebuild would delete it first), and unchanged sources are not recompiled.
const headers = findNodeHeaders();
const gypOptions = headers ? [`--nodedir=${headers}`] : [];
if (verbose) {
  console.log(`yollava: building the native kernels with ${nodeGyp}`);
  console.log(`yollava: OpenBLAS headers in ${blas.includeDir}, library in ${blas.libDir}`);
}
function runNodeGyp(command) {
  return spawnSync(process.execPath, [nodeGyp, command, ...gypOptions], {
    cwd: nativeDir,
    stdio: verbose ? 'inherit' : 'pipe',
    encoding: 'utf8',
  }).status === 0;
}
if (!runNodeGyp('configure') || !runNodeGyp('build') || !existsSync(builtAddon)) {
  unavailable(
    verbose
      ? 'the addon build failed, see the output above'
      : 'the addon build failed; `npm run build:native` shows the compiler output',
  );
}

// Load it once in a fresh process: a library missing at run time shows up here, not later.
const check = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(builtAddon)}).getThreads()`], {
  stdio: 'pipe',
  encoding: 'utf8',
});
if (check.status !== 0) {
  const firstLine = (check.stderr || '').split('\n').find((line) => /Error/.test(line)) ?? 'unknown error';
  unavailable(`the built addon does not load: ${firstLine.trim()}`);
}
console.log(`yollava: native kernels built (${relative(process.cwd(), builtAddon) || builtAddon})`);
