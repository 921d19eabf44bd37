/**
 * svcproxy --cluster under churn (issue 20's tests): watches dropped every
 * second or two (abrupt and clean, one 410 relist) while a client connects
 * continuously and a Pod is replaced; the API server down for 20 s and back.
 * Direct mode against the fake API server; the set-up is test/helpers/cluster.ts.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Test } from 'tap';
import t from 'tap';
import type { ClusterStatus } from '../../src/sources/cluster-status.js';
import { getJson } from '../helpers/admin.js';
import { POD_PORT, podServer, services, startClusterInstance, WAIT_MS } from '../helpers/cluster.js';
import { type FakeApiServer, startFakeApiServer } from '../helpers/fake-apiserver/server.js';
import { eventually, request } from '../helpers/net.js';

// The real work: ~10 s of drops plus convergence, and a 20 s outage plus convergence, each
// with waits bounded by WAIT_MS on a loaded 2-core machine: 3 minutes leaves room for both.
t.setTimeout(180_000);

const SVC = { namespace: 'shop', name: 'web', selector: { app: 'web' }, ports: [{ name: 'http', port: 9080, targetPort: POD_PORT }] };
const PORT_KEY = 'shop/web:http';

async function addressOf(admin: number): Promise<string> {
  let address = '';
  await eventually(
    async () => {
      address = (await services(admin)).services.find((s) => s.key === 'shop/web')?.addresses[0] ?? '';
      return address !== '';
    },
    'shop/web to be served',
    WAIT_MS,
  );
  return address;
}

async function readyEndpoints(admin: number): Promise<string[]> {
  const port = (await services(admin)).servicePorts.find((p) => p.key === PORT_KEY);
  return (port?.endpoints ?? [])
    .filter((e) => e.ready)
    .map((e) => e.address)
    .sort();
}

async function endpointsBecome(admin: number, want: string[], what: string): Promise<void> {
  const sorted = JSON.stringify([...want].sort());
  await eventually(async () => JSON.stringify(await readyEndpoints(admin)) === sorted, what, WAIT_MS);
}

async function fetchFrom(address: string): Promise<string> {
  return (await request(9080, '', address)).data.toString();
}

/** A Pod of app web with a server on its IP, ready only once the server listens. */
async function addServingPod(t: Test, server: FakeApiServer, name: string): Promise<string> {
  const ip = server.cluster.addPod({ namespace: 'shop', name, labels: { app: 'web' }, ready: false }).status.podIP ?? '';
  await podServer(t, ip);
  server.cluster.setPodReady('shop', name, true);
  return ip;
}

/** A client opening new connections one after another until `stop`; failures count only while a ready endpoint existed. */
function continuousClient(admin: number, address: string): { stop: () => Promise<{ answered: Map<string, number>; failures: string[] }> } {
  let running = true;
  const answered = new Map<string, number>();
  const failures: string[] = [];
  const loop = (async () => {
    while (running) {
      const who = await fetchFrom(address);
      if (who !== '') answered.set(who, (answered.get(who) ?? 0) + 1);
      else if ((await readyEndpoints(admin)).length > 0) failures.push(`an empty answer at ${new Date().toISOString()}`);
      await delay(2); // continuous, yet leaves the loaded machine's cores to the proxy and the fake
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { answered, failures };
    },
  };
}

t.test('watches dropped every 1-2 s and a 410 relist while a Pod is replaced: no failed connection, no stale endpoint, bounded requests', async (t) => {
  const server = await startFakeApiServer(t, { podNetwork: '127.0.61' });
  server.cluster.addService(SVC);
  const ips: string[] = [];
  for (let i = 0; i < 3; i++) ips.push(await addServingPod(t, server, `web-${i}`));
  const admin = (await startClusterInstance(t, server)).admin;
  const address = await addressOf(admin);
  await endpointsBecome(admin, ips, 'three ready endpoints');
  const reflectors = (await getJson<ClusterStatus>(admin, '/api/cluster')).watches.length;
  const listsBefore = server.requests.filter((r) => r.query.get('watch') === null).length;
  const watchesBefore = server.requests.filter((r) => r.query.get('watch') === 'true').length;
  const client = continuousClient(admin, address);
  const removed = ips[0] ?? '';
  let replacement = '';
  let drops = 0;
  let compactions = 0;
  // The scenario's own clock: a drop every 1-2 s for about 10 s (8 drops).
  for (let round = 0; round < 8; round++) {
    await delay(1000 + (round % 2) * 500);
    if (round === 4) {
      server.expireWatches(); // compaction and a 410 ERROR event: a relist that must diff, not empty
      compactions++;
    } else {
      server.dropWatches({ abrupt: round % 2 === 0 });
      drops++;
    }
    if (round === 2) replacement = await addServingPod(t, server, 'web-3');
    // The old Pod goes once the new one is served; its process lingers, so a stale endpoint would show.
    if (round === 3) {
      await eventually(async () => (await readyEndpoints(admin)).includes(replacement), 'the replacement to be served', WAIT_MS);
      server.cluster.deletePod('shop', 'web-0');
    }
  }
  const current = [...ips.slice(1), replacement];
  await endpointsBecome(admin, current, 'the replacement in, the removed Pod out');
  // After convergence the removed Pod gets no connection: ten in a row reach the current Pods only.
  await eventually(
    async () => {
      for (let i = 0; i < 10; i++) if (!current.includes(await fetchFrom(address))) return false;
      return true;
    },
    'ten connections in a row to the current Pods',
    WAIT_MS,
  );
  const { answered, failures } = await client.stop();
  t.same(failures, [], 'every new connection was answered while an endpoint was ready');
  t.ok((answered.get(replacement) ?? 0) > 0, `the replacement answered (${JSON.stringify([...answered])})`);
  t.notOk(
    [...answered.keys()].some((who) => who !== removed && !current.includes(who)),
    'only Pods of the Service answered',
  );
  const status = await getJson<ClusterStatus>(admin, '/api/cluster');
  t.ok(status.relists >= 1, `the 410 counted as a relist (${status.relists})`);
  const lists = server.requests.filter((r) => r.query.get('watch') === null).length - listsBefore;
  const watches = server.requests.filter((r) => r.query.get('watch') === 'true').length - watchesBefore;
  // Per reflector: a resume per drop, a relist and a fresh watch per compaction; a margin of 2 each.
  t.ok(lists <= reflectors * (compactions + 2), `lists bounded: ${lists} <= ${reflectors} x (${compactions} + 2)`);
  t.ok(lists >= reflectors * compactions, `every reflector relisted after the 410 (${lists} lists)`);
  t.ok(watches <= reflectors * (drops + compactions + 2), `watches bounded: ${watches} <= ${reflectors} x (${drops} + ${compactions} + 2)`);
});

t.test('the API server down for 20 s: the last state serves, /readyz says since when; a change converges when back', async (t) => {
  const server = await startFakeApiServer(t, { podNetwork: '127.0.62' });
  server.cluster.addService(SVC);
  const ips = [await addServingPod(t, server, 'web-0'), await addServingPod(t, server, 'web-1')];
  const admin = (await startClusterInstance(t, server)).admin;
  const address = await addressOf(admin);
  await endpointsBecome(admin, ips, 'two ready endpoints');
  const downAt = Date.now();
  await server.outage('refuse');
  await eventually(async () => !(await getJson<ClusterStatus>(admin, '/api/cluster')).reachable, 'the outage to be seen', WAIT_MS);
  const ready = await fetch(`http://127.0.0.1:${admin}/readyz`, { headers: { accept: 'application/json' } });
  t.equal(ready.status, 200, 'an outage is not a failure status');
  const body = (await ready.json()) as { cluster: { reachable: boolean; unreachableSince: string } };
  t.equal(body.cluster.reachable, false);
  const since = Date.parse(body.cluster.unreachableSince);
  t.ok(since >= downAt - 1000 && since <= Date.now(), `since ${body.cluster.unreachableSince}, when it went down`);
  const client = continuousClient(admin, address);
  // The outage lasts 20 s by the test's clock: this wait is the scenario.
  await delay(Math.max(0, downAt + 20_000 - Date.now()));
  const { answered, failures } = await client.stop();
  t.same(failures, [], 'no failed connection during the outage');
  t.same([...answered.keys()].sort(), [...ips].sort(), `the last state kept serving both Pods (${JSON.stringify([...answered])})`);
  t.equal((await getJson<ClusterStatus>(admin, '/api/cluster')).unreachableSince, body.cluster.unreachableSince, 'still the same since');
  server.cluster.setPodReady('shop', 'web-0', false);
  const ip2 = await addServingPod(t, server, 'web-2');
  await server.recover();
  await endpointsBecome(admin, [ips[1] ?? '', ip2], 'the changes made during the outage');
  await eventually(async () => (await getJson<ClusterStatus>(admin, '/api/cluster')).reachable, 'reachable again', WAIT_MS);
});
