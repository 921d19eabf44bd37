/**
 * A proxy process for the fd-limit tests (run under a low `ulimit -n`).
 *
 *   node fd-limit-child.js <upstreamPort> <freeAtHandOff|-1>
 *
 * Proxies to 127.0.0.1:<upstreamPort> with the native pump. With
 * freeAtHandOff >= 0, the first connection's hand-off runs with the process at
 * its fd limit but for that many free descriptors (0: the dup fails; 2: the dups
 * succeed and the pipe cannot be made), and the descriptors are given back right
 * after. Prints `port <n>` once listening; answers `stats` on stdin with one
 * JSON line: open fds, native thread stats, hand-off counts, connections ended
 * by pump.
 */
import { openSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { dial } from '../../src/proxy/dial.js';
import { AcceptStormGuard } from '../../src/proxy/listener.js';
import { pump, SOCKET_HIGH_WATER_MARK, type PumpOptions } from '../../src/proxy/pump.js';
import { sharedNativePump } from '../../src/proxy/pump-choice.js';
import { openFds } from './pump-proxy.js';

const upstreamPort = Number(process.argv[2]);
let freeAtHandOff = Number(process.argv[3] ?? -1);
const native = sharedNativePump();
if (native === undefined) throw new Error('the native pump is not built');
const options: PumpOptions = { halfCloseTimeoutMs: 60_000, idleTimeoutMs: 0 };
const ended = { native: 0, js: 0 };
let acceptErrors = 0;

/** Opens descriptors until EMFILE, then closes `free` of them; returns the rest, to close later. */
function exhaustFds(free: number): number[] {
  const held: number[] = [];
  for (;;) {
    try {
      held.push(openSync('/dev/null', 'r'));
    } catch {
      break;
    }
  }
  for (let i = 0; i < free; i++) closeSync(held.pop() as number);
  return held;
}

const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true, highWaterMark: SOCKET_HIGH_WATER_MARK }, (downstream) => {
  downstream.on('error', () => undefined);
  dial('127.0.0.1', upstreamPort, 5000, 0, (_err, upstream) => {
    if (upstream === undefined) {
      // Reset, as ServicePortProxy refuses a connection it cannot dial (refuseAfterAdmission): a plain
      // destroy() sends a FIN when the client's first bytes have not arrived yet, and a RST when they have.
      downstream.resetAndDestroy();
      return;
    }
    upstream.on('error', () => undefined);
    const held = freeAtHandOff >= 0 ? exhaustFds(freeAtHandOff) : [];
    freeAtHandOff = -1;
    const carrier = native.handOff(downstream, upstream, options, () => ended.native++);
    for (const fd of held) closeSync(fd);
    if (typeof carrier === 'string') pump(downstream, upstream, options, () => ended.js++);
  });
});
// Accept failures at the fd limit (EMFILE) are reported on the server; they must not end the process.
// A storm of them (libuv spinning: see src/proxy/listener.ts) closes the listener, reopened shortly, as ServiceListener does.
let storms = 0;
const guard = new AcceptStormGuard(() => {
  storms++;
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  server.close();
  setTimeout(() => server.listen(port, '127.0.0.1'), 100);
});
server.on('error', (err) => {
  acceptErrors++;
  guard.acceptError(err);
});
server.once('listening', () => {
  const address = server.address();
  process.stdout.write(`port ${typeof address === 'object' && address !== null ? address.port : 0}\n`);
});
server.listen(0, '127.0.0.1');

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line !== 'stats') return;
  let fds = -1; // reading /proc/self/fd takes a descriptor too: none may be left
  try {
    fds = openFds();
  } catch {
    // at the limit
  }
  const stats = {
    fds,
    thread: native.threadStats(),
    handedOff: native.counts.handedOff,
    fallbacks: Object.fromEntries(native.counts.fallbacks),
    ended,
    acceptErrors,
    storms,
  };
  process.stdout.write(`${JSON.stringify(stats)}\n`);
});
process.stdin.on('end', () => process.exit(0));
