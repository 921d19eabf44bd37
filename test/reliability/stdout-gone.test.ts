/**
 * A reader of svcproxy's stdout that goes away (`svcproxy | head`, a log
 * shipper that dies) costs the log lines, nothing else: the proxy keeps
 * serving, exits on SIGTERM, and `--check | head` ends without a stack trace.
 * Before, `--check` crashed with an unhandled EPIPE and a serving process
 * spun at 100 % CPU on SIGTERM (sonic-boom's exit flush retried EPIPE forever).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import t from 'tap';
import { serviceWithEndpoints } from '../helpers/instance.js';
import { eventually, freePort, request, startEchoServer } from '../helpers/net.js';
import { CLI, configDir } from '../helpers/process.js';

t.test('a serving svcproxy whose stdout reader left keeps serving and exits 0 on SIGTERM', async (t) => {
  const echo = await startEchoServer(t);
  const port = await freePort();
  const admin = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', port, [echo]) });
  const child = spawn(process.execPath, [CLI, '--config', dir, '--admin-address', `127.0.0.1:${admin}`, '--bind-address', '127.0.0.1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  await once(child.stdout, 'data'); // the first log line: it is running
  child.stdout.destroy(); // the reader goes away; every later write gets EPIPE
  await eventually(async () => (await fetch(`http://127.0.0.1:${admin}/readyz`).catch(() => undefined))?.status === 200, 'svcproxy to be ready', 15_000);
  t.equal((await request(port, 'still here')).data.toString(), 'still here', 'forwarding goes on without a log reader');
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  child.kill('SIGTERM');
  const [code, signal] = await Promise.race([
    exited,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no exit within 10 s; stderr: ${stderr}`)), 10_000)),
  ]);
  t.same({ code, signal }, { code: 0, signal: null }, 'a clean exit');
});

t.test('`svcproxy --check | head -0` ends without a crash', async (t) => {
  const echo = await startEchoServer(t);
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', await freePort(), [echo]) });
  const child = spawn(process.execPath, [CLI, '--check', '--config', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  t.equal(code, 0);
  t.notMatch(stderr, /EPIPE|Error/, 'no stack trace');
});
