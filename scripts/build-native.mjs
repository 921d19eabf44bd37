// The package's install script: builds the optional native splice pump
// (native/splice-pump) with npm's own node-gyp. It never fails the install:
// off Linux, without a compiler or Python, or when the build breaks, it says so
// in one line and svcproxy runs its JavaScript pump (src/native/splice-addon.ts
// logs the same choice at start). SVCPROXY_NATIVE_BUILD=0 skips the build.
//
// Plain JavaScript (no TypeScript build has run yet when npm calls it).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const addonDir = join(root, 'native', 'splice-pump');

function skip(reason) {
  console.warn(`svcproxy: native splice pump not built (${reason}); the JavaScript pump will be used`);
  process.exit(0);
}

if (process.env.SVCPROXY_NATIVE_BUILD === '0') skip('SVCPROXY_NATIVE_BUILD=0');
if (process.platform !== 'linux') skip(`splice(2) is Linux-only, this is ${process.platform}`);
if (!existsSync(join(addonDir, 'binding.gyp'))) skip('no native/splice-pump in this copy');

/** npm tells its scripts where its bundled node-gyp is; a global node-gyp is the fallback. */
function nodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm !== undefined && existsSync(fromNpm)) return [process.execPath, fromNpm];
  try {
    return [process.execPath, createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js')];
  } catch {
    return ['node-gyp'];
  }
}

const [command, ...prefix] = nodeGyp();
const args = [...prefix, 'rebuild', '--loglevel=warn', '--directory', addonDir];
// Headers: node-gyp would download them for the running Node unless told where they
// are. The addon uses only N-API (ABI-stable), so any installed Node's headers do:
// the running Node's own (PREFIX/include/node: /usr/local in the official images,
// the npm registry's node package), else the system's (/usr).
const ownPrefix = dirname(dirname(process.execPath));
const nodedir = [ownPrefix, '/usr'].find((prefix) => existsSync(join(prefix, 'include', 'node', 'node_api.h')));
if (process.env.npm_config_nodedir === undefined && nodedir !== undefined) args.push(`--nodedir=${nodedir}`);
const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'], timeout: 300_000 });
if (result.error !== undefined) skip(`node-gyp did not run: ${result.error.message}`);
if (result.status !== 0) skip(`node-gyp exited with ${result.status ?? result.signal}`);
console.log('svcproxy: native splice pump built (native/splice-pump/build/Release/splice_pump.node)');
