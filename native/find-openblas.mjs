// Finds OpenBLAS's cblas.h and library for the addon build. Used by scripts/build-native.mjs
// (to decide whether to build at all) and by binding.gyp (`--include-dirs`, `--libraries`).
// Override with YOLLAVA_OPENBLAS_INCLUDE and YOLLAVA_OPENBLAS_LIB (folders).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const headerCandidates = [
  '/usr/include/x86_64-linux-gnu/openblas-pthread',
  '/usr/include/aarch64-linux-gnu/openblas-pthread',
  '/usr/include/openblas',
  '/usr/local/include/openblas',
  '/usr/local/opt/openblas/include',
  '/opt/homebrew/opt/openblas/include',
  '/usr/include/x86_64-linux-gnu',
  '/usr/include/aarch64-linux-gnu',
  '/usr/include',
  '/usr/local/include',
];
const libraryCandidates = [
  '/usr/lib/x86_64-linux-gnu/openblas-pthread',
  '/usr/lib/aarch64-linux-gnu/openblas-pthread',
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/usr/lib64',
  '/usr/lib',
  '/usr/local/lib',
  '/usr/local/opt/openblas/lib',
  '/opt/homebrew/opt/openblas/lib',
];
const libraryNames = ['libopenblas.so', 'libopenblas.dylib'];

/** A cblas.h that is OpenBLAS's own (it declares openblas_set_num_threads). */
function isOpenBlasHeader(dir) {
  const file = join(dir, 'cblas.h');
  return existsSync(file) && readFileSync(file, 'utf8').includes('openblas_set_num_threads');
}

const hasLibrary = (dir) => libraryNames.some((name) => existsSync(join(dir, name)));

function fromPkgConfig() {
  try {
    const flags = execFileSync('pkg-config', ['--cflags-only-I', '--libs-only-L', 'openblas'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const dirs = flags.split(/\s+/).filter(Boolean);
    return {
      include: dirs.filter((flag) => flag.startsWith('-I')).map((flag) => flag.slice(2)),
      lib: dirs.filter((flag) => flag.startsWith('-L')).map((flag) => flag.slice(2)),
    };
  } catch {
    return { include: [], lib: [] };
  }
}

/**
 * @returns {{ includeDir: string, libDir: string } | { missing: string }}
 */
export function findOpenBlas() {
  const fromEnv = { include: process.env.YOLLAVA_OPENBLAS_INCLUDE, lib: process.env.YOLLAVA_OPENBLAS_LIB };
  const pkg = fromPkgConfig();
  const includeDir = [fromEnv.include, ...pkg.include, ...headerCandidates].find((dir) => dir && isOpenBlasHeader(dir));
  if (!includeDir) return { missing: "OpenBLAS's cblas.h was not found" };
  const libDir = [fromEnv.lib, ...pkg.lib, ...libraryCandidates].find((dir) => dir && hasLibrary(dir));
  if (!libDir) return { missing: 'libopenblas was not found' };
  return { includeDir, libDir };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const found = findOpenBlas();
  if ('missing' in found) {
    console.error(found.missing);
    process.exit(1);
  }
  if (process.argv.includes('--include-dirs')) console.log(found.includeDir);
  else if (process.argv.includes('--libraries')) console.log(`-L${found.libDir} -lopenblas`);
  else console.log(JSON.stringify(found));
}
