import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import type { Test } from 'tap';

/**
 * A port where connection attempts hang: a listening socket with a backlog
 * of 0 that never accepts, its one queue slot already taken. New SYNs are
 * dropped, so a dial neither succeeds nor fails until its timeout. Node
 * always accepts, so this is a python3 child (python3 is on every machine
 * of this kind; see ../shared/toolchain.md).
 */
export async function startBlackhole(t: Test): Promise<number> {
  const child = spawn(
    'python3',
    ['-c', "import socket,sys\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()"],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  t.teardown(() => {
    child.stdin.end();
    child.kill();
  });
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  const port = Number(line.toString().trim());
  const filler = connect({ port, host: '127.0.0.1' });
  filler.on('error', () => undefined);
  t.teardown(() => {
    filler.destroy();
  });
  await once(filler, 'connect');
  return port;
}
