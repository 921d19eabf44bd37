/**
 * No message says its error code twice (issue 23, point 3): Node's own
 * messages already hold the code, so a message built as "code + message"
 * read `EADDRINUSE listen EADDRINUSE: …` or `ENOENT: ENOENT: …`.
 */
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { openAccessLog } from '../src/access-log/access-log.js';
import { readConfig } from '../src/config/load.js';
import { formatIssue } from '../src/config/types.js';
import { describeError, ProxyError } from '../src/errors.js';
import { freePort } from './helpers/ports.js';

/** How many times `code` stands in `text` as a word. */
function times(text: string, code: string): number {
  return text.split(new RegExp(`\\b${code}\\b`)).length - 1;
}

async function caught(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (err: unknown) {
    return err;
  }
  throw new Error('expected a failure');
}

t.test('real system errors: the code once, first', async (t) => {
  const held = createServer().listen(0, '127.0.0.1');
  await once(held, 'listening');
  t.teardown(() => new Promise<void>((resolve) => held.close(() => resolve())));
  const address = held.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const second = createServer();
  second.listen(port, '127.0.0.1');
  const [inUse] = (await once(second, 'error')) as [Error];
  t.equal(describeError(inUse), `EADDRINUSE: address already in use 127.0.0.1:${port} (listen)`);

  const missing = await caught(() => readFile('/nonexistent/svcproxy-file'));
  t.equal(describeError(missing), "ENOENT: no such file or directory, open '/nonexistent/svcproxy-file'");

  // A held port: nothing listens there, so a connection is refused.
  const socket = connect(await freePort(), '127.0.0.1');
  const [refused] = (await once(socket, 'error').catch((err: unknown) => [err])) as [Error];
  t.equal(times(describeError(refused), 'ECONNREFUSED'), 1, describeError(refused));
  t.match(describeError(refused), /^ECONNREFUSED: 127\.0\.0\.1:\d+ \(connect\)$/);
});

t.test('errors without a code, or whose message does not hold it', async (t) => {
  t.equal(describeError(new Error('plain')), 'plain');
  t.equal(describeError('a string'), 'a string');
  t.equal(describeError(new ProxyError('E_DIAL_TIMEOUT', 'no answer in 1 s')), 'E_DIAL_TIMEOUT: no answer in 1 s');
});

t.test('the messages users saw doubled: --access-log and an unreadable config path', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'svcproxy-errors-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const accessLog = await caught(() => openAccessLog(join(dir, 'no', 'access.log')));
  const text = accessLog instanceof Error ? accessLog.message : '';
  t.match(text, new RegExp(`^--access-log: cannot open ${dir}/no/access\\.log: ENOENT: no such file or directory`));
  t.equal(times(text, 'ENOENT'), 1, text);
  const read = await readConfig([join(dir, 'nope')]);
  const line = read.issues.map(formatIssue).join('\n');
  t.match(line, /nope: cannot read the config: ENOENT: no such file or directory/);
  t.equal(times(line, 'ENOENT'), 1, line);
});
