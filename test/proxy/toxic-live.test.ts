/**
 * The toxic pump's live chain, with the toxiproxy API on (FaultTable.enableApi):
 * API toxics added or updated while a connection is open act on it, bytes
 * held by earlier stages pass through a toxic appended after them, and no
 * byte is lost or reordered. Real sockets through a ServicePortProxy.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import t from 'tap';
import { FaultTable } from '../../src/faults/fault-table.js';
import type { Lease } from '../../src/proxy/lease.js';
import { NativePump } from '../../src/proxy/native-pump.js';
import { fakeAddon } from '../helpers/fake-addon.js';
import { roundTripMs, toxic } from '../helpers/faults.js';
import { dialTo, eventually, readAll, startEchoServer, startServer } from '../helpers/net.js';
import { endpoint, startServicePort } from '../helpers/proxy.js';

const KEY = 'default/web'; // the Service port key of helpers/proxy.ts
const OWNER = 'web.default:80';

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function apiTable(): FaultTable {
  const table = new FaultTable();
  table.enableApi();
  return table;
}

/** A backend that records what it receives; `socket` once a connection came. */
async function startRecorder(t: Parameters<typeof startServer>[0]): Promise<{ port: number; received: () => Buffer; ended: () => boolean }> {
  const chunks: Buffer[] = [];
  let ended = false;
  const port = await startServer(t, (s: Socket) => {
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => {
      ended = true;
      s.end();
    });
  });
  return { port, received: () => Buffer.concat(chunks), ended: () => ended };
}

function heldBytes(table: FaultTable, name: string): number {
  return table.counterEntries().find((e) => e.name === name)?.counters.heldBytes ?? 0;
}

/** A native pump whose thread is a fake that records the connections handed to it. */
function fakeNative(): { native: NativePump; adopted: number[]; end: (slot: number) => void } {
  const fake = fakeAddon();
  return { native: new NativePump(fake.addon, { slots: 4, maxPipes: 4, maxSparePipes: 1 }), adopted: fake.adopted, end: fake.end };
}

t.test('API on: a connection with no toxic stays on the toxic pump and registers until it ends; API off: it is handed to the native pump', async (t) => {
  const echo = await startEchoServer(t);
  const on = fakeNative();
  const table = apiTable();
  const withApi = await startServicePort(t, [endpoint(echo)], { nativePump: on.native }, undefined, { faults: table });
  const client = await dialTo(t, withApi.port);
  t.ok((await roundTripMs(client, 'ping')) >= 0, 'the echo came back');
  t.same(on.adopted, [], 'not handed to the native pump');
  t.equal(table.liveConnections, 1, 'registered with the fault table');
  client.end();
  await eventually(() => withApi.proxy.stats.active === 0, 'the connection to end');
  t.equal(table.liveConnections, 0, 'the registration went with the lease');

  const off = fakeNative();
  const plainTable = new FaultTable();
  const withoutApi = await startServicePort(t, [endpoint(echo)], { nativePump: off.native }, undefined, { faults: plainTable, name: 'other' });
  const plain = await dialTo(t, withoutApi.port);
  await eventually(() => off.adopted.length === 1, 'the connection (no toxics, no API) to be handed to the native pump');
  t.equal(plainTable.liveConnections, 0, 'nothing registered');
  off.end(off.adopted[0] as number);
  plain.destroy();
});

t.test('a toxic appended to a live chain: bytes an earlier toxic holds pass through it when released', async (t) => {
  const backend = await startRecorder(t);
  const table = apiTable();
  table.addApiToxic(KEY, OWNER, toxic('timeout', { timeout: 0 }, { stream: 'upstream', name: 'stall' }));
  const { port, proxy } = await startServicePort(t, [endpoint(backend.port)], {}, undefined, { faults: table });
  const client = await dialTo(t, port);
  client.on('end', () => client.end()); // answer svcproxy's close with ours
  const outcome = readAll(client);
  const payload = randomBytes(50_000);
  client.write(payload);
  await eventually(() => heldBytes(table, 'stall') === payload.length, 'the stall to hold the bytes');
  t.ok(table.addApiToxic(KEY, OWNER, toxic('limit_data', { bytes: 1000 }, { stream: 'upstream', name: 'cut' })), 'limit_data added while the bytes are held');
  t.equal(backend.received().length, 0, 'nothing passed yet');
  table.removeApiToxic(KEY, 'stall');
  await eventually(() => backend.ended(), 'the backend to see the connection end');
  t.same(backend.received(), payload.subarray(0, 1000), 'the held bytes went through the appended limit_data: exactly the first 1000');
  t.equal((await outcome).error, '', 'closed cleanly, as limit_data does');
  await eventually(() => proxy.stats.active === 0, 'the lease to end');
  t.equal(table.liveConnections, 0);
});

t.test('an update draws toxicity again on the open connection: a hit makes a no-op toxic act, a miss releases what it held, in order', async (t) => {
  const backend = await startRecorder(t);
  const table = apiTable();
  // Toxicity 0: the draw at admission misses; the toxic stands in the chain as a no-op.
  table.addApiToxic(KEY, OWNER, toxic('timeout', { timeout: 0 }, { stream: 'upstream', name: 'stall', toxicity: 0 }));
  const { port } = await startServicePort(t, [endpoint(backend.port)], {}, undefined, { faults: table });
  const client = await dialTo(t, port);
  client.write('a');
  await eventually(() => backend.received().length === 1, 'a byte to pass the no-op');
  t.ok(table.updateApiToxic(KEY, toxic('timeout', { timeout: 0 }, { stream: 'upstream', name: 'stall', toxicity: 1 })));
  const first = randomBytes(100_000);
  client.write(first);
  await eventually(() => heldBytes(table, 'stall') === first.length, 'the updated toxic (now a hit) to hold the bytes');
  t.equal(backend.received().length, 1, 'nothing more passed');
  table.updateApiToxic(KEY, toxic('timeout', { timeout: 0 }, { stream: 'upstream', name: 'stall', toxicity: 0 }));
  await eventually(() => backend.received().length === 1 + first.length, 'the held bytes to be released by the miss');
  t.equal(sha256(backend.received().subarray(1)), sha256(first), 'in order');
  t.equal(heldBytes(table, 'stall'), 0);
  t.equal(table.counterEntries().find((e) => e.name === 'stall')?.counters.applications, 1, 'the connection counted once as having got the toxic');
  client.end('z');
  await eventually(() => backend.ended(), 'the end to pass');
  t.equal(backend.received().subarray(-1).toString(), 'z');
});

t.test('updated attributes apply to the open connection; the lease names toxics met after admission, not the ones that missed', async (t) => {
  const backend = await startRecorder(t);
  const table = apiTable();
  const ended: Lease[] = [];
  const { port } = await startServicePort(t, [endpoint(backend.port)], {}, undefined, { faults: table, onLeaseEnd: (lease) => ended.push(lease) });
  const client = await dialTo(t, port);
  client.write('x');
  await eventually(() => backend.received().length === 1, 'the first byte');
  table.addApiToxic(KEY, OWNER, toxic('limit_data', { bytes: 1_000_000 }, { stream: 'upstream', name: 'cap' }));
  table.addApiToxic(KEY, OWNER, toxic('latency', { latency: 1 }, { stream: 'upstream', name: 'never', toxicity: 0 }));
  // limit_data counts what it passed since it joined the chain; lowering the limit applies to the same connection.
  client.write(Buffer.alloc(10, 1));
  await eventually(() => backend.received().length === 11, 'ten bytes through the generous limit');
  table.updateApiToxic(KEY, toxic('limit_data', { bytes: 15 }, { stream: 'upstream', name: 'cap' }));
  client.on('end', () => client.end());
  const outcome = readAll(client);
  client.write(Buffer.alloc(100, 2));
  await eventually(() => backend.ended(), 'the lowered limit to close the connection');
  t.equal(backend.received().length, 16, 'the first byte, then 15 through the updated limit');
  t.equal((await outcome).error, '');
  await eventually(() => ended.length === 1, 'the lease to end');
  t.same(ended[0]?.toxics, ['cap'], 'the toxic met after admission is named; the one whose draw missed is not');
});
