/**
 * The listener out of file descriptors: accept errors are counted per turn of
 * the event loop, and a storm of them (libuv spinning in its accept loop, see
 * src/proxy/listener.ts) closes the listening socket and reopens it on the
 * same port. The storm itself needs a race with another thread at the fd
 * limit (test/proxy/native-fd-limit.test.ts meets it now and then); here the
 * server's accept errors are replayed as libuv reports them, all in one turn.
 */
import type { Server } from 'node:net';
import t from 'tap';
import { AcceptStormGuard } from '../../src/proxy/listener.js';
import { endpoint, startServicePort } from '../helpers/proxy.js';
import { dialTo, eventually, readAll, request, startEchoServer } from '../helpers/net.js';

function acceptError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`accept ${code}`), { code, errno: -24, syscall: 'accept' });
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

t.test('AcceptStormGuard: 64 descriptor errors in one turn are a storm, fewer per turn are not', async (t) => {
  const storms: string[] = [];
  const guard = new AcceptStormGuard((code) => storms.push(code));
  t.notOk(guard.acceptError(acceptError('ECONNABORTED')), 'other errors are not the guard’s');
  t.notOk(guard.acceptError(new Error('no code')), 'nor errors without a code');
  t.ok(guard.acceptError(acceptError('EMFILE')), 'EMFILE is counted');
  for (let i = 1; i < 63; i++) guard.acceptError(acceptError('EMFILE'));
  await nextTurn();
  for (let i = 0; i < 63; i++) guard.acceptError(acceptError('ENFILE'));
  t.same(storms, [], '63 per turn, twice: no storm');
  await nextTurn();
  for (let i = 0; i < 100; i++) guard.acceptError(acceptError('ENFILE'));
  t.same(storms, ['ENFILE'], 'a storm is reported once, at the 64th error of one turn');
});

t.test('a storm closes the listening socket and reopens it on the same port; connections are served again', async (t) => {
  const upstream = await startEchoServer(t);
  const states: string[] = [];
  const { port, listener } = await startServicePort(t, [endpoint(upstream)], {}, undefined, {
    onListenerState: (l) => states.push(`${l.state}:${l.lastError}`),
  });
  t.equal((await request(port, 'before')).data.toString(), 'before');
  const held = await dialTo(t, port);
  // The server is private to the listener; its 'error' events are what libuv's accept loop produces.
  const server = (listener as unknown as { server: Server }).server;
  for (let i = 0; i < 10; i++) server.emit('error', acceptError('EMFILE'));
  t.equal(listener.state, 'listening', 'a few accept errors leave the listener alone');
  for (let i = 0; i < 64; i++) server.emit('error', acceptError('EMFILE'));
  t.equal(listener.state, 'failed', 'a storm pauses accepting');
  t.match(listener.lastError, /EMFILE: out of file descriptors; accepting paused/);
  t.notOk(server.listening, 'the listening socket is closed, which ends libuv’s accept loop');
  await eventually(() => listener.state === 'listening', 'the listener to reopen', 5000);
  t.equal(listener.port, port, 'on the same port (the plan asked for port 0)');
  t.equal(listener.bindFailures, 0, 'a successful reopen resets the failure count');
  t.equal((await request(port, 'after')).data.toString(), 'after', 'and serves');
  const echoed = readAll(held);
  held.end('held');
  t.equal((await echoed).data.toString(), 'held', 'a connection established before the storm is untouched');
  t.same(states, ['listening:', 'failed:EMFILE: out of file descriptors; accepting paused', 'listening:'], 'the admin view sees the pause and the reopen');
});

t.test('a listener closed while accepting is paused stays closed', async (t) => {
  const upstream = await startEchoServer(t);
  const { listener } = await startServicePort(t, [endpoint(upstream)]);
  const server = (listener as unknown as { server: Server }).server;
  for (let i = 0; i < 64; i++) server.emit('error', acceptError('ENFILE'));
  t.equal(listener.state, 'failed');
  listener.close();
  t.equal(listener.state, 'closed');
  t.notOk(server.listening);
});
