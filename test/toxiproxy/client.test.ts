/**
 * The toxiproxy-compatible API driven by a client no one here wrote:
 * toxiproxy-node-client from npm. Every effect is measured on the wire.
 */
import { connect } from 'node:net';
import t from 'tap';
import { Toxiproxy, ToxiproxyError } from 'toxiproxy-node-client';
import { median, roundTripMs } from '../helpers/faults.js';
import { serviceWithEndpoints, startInstance } from '../helpers/instance.js';
import { dialTo, freePort, startEchoServer } from '../helpers/net.js';
import { configDir } from '../helpers/process.js';

async function medianRoundTrip(t: Parameters<typeof dialTo>[0], port: number, n = 9): Promise<number> {
  const socket = await dialTo(t, port);
  const samples: number[] = [];
  for (let i = 0; i < n; i++) samples.push(await roundTripMs(socket));
  socket.destroy();
  return median(samples);
}

t.test('toxiproxy-node-client: create a proxy, add latency, list, update, remove, reset; the effect on the wire', async (t) => {
  const echo = await startEchoServer(t);
  const servicePort = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', servicePort, [echo]) });
  const instance = await startInstance(t, dir, { toxiproxy: { host: '127.0.0.1', port: 0 } });
  const client = new Toxiproxy(`http://127.0.0.1:${instance.toxiproxyPort}`);

  t.match(await client.getVersion(), /"version":"2\.12\.0\+svcproxy\./, 'GET /version');

  const proxy = await client.createProxy({ name: 'echo', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo}` });
  const port = Number(proxy.listen.split(':')[1]);
  t.ok(port > 0, `the forward listens on ${proxy.listen}`);
  const base = await medianRoundTrip(t, port);

  const toxic = await proxy.addToxic({ name: 'lag', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 100, jitter: 0 } });
  t.equal(toxic.name, 'lag');
  const slowed = (await medianRoundTrip(t, port)) - base;
  t.ok(slowed >= 90 && slowed <= 110, `added latency ${slowed.toFixed(1)} ms within 90-110 ms`);

  const all = await client.getAll();
  t.same(Object.keys(all).sort(), ['echo', `web.default:${servicePort}`], 'the forward and the Service port are proxies');
  t.equal(all['echo']?.upstream, `127.0.0.1:${echo}`);
  const got = await (await client.get('echo')).getToxic('lag');
  t.same(got.attributes, { latency: 100, jitter: 0 });

  const updated = await got.update({ attributes: { latency: 50 }, toxicity: 1 } as never);
  t.same(updated.attributes, { latency: 50, jitter: 0 }, 'attributes decoded onto the existing ones');
  const lessSlow = (await medianRoundTrip(t, port)) - base;
  t.ok(lessSlow >= 45 && lessSlow <= 55, `after the update, added latency ${lessSlow.toFixed(1)} ms within 45-55 ms`);

  await updated.remove();
  t.ok((await medianRoundTrip(t, port)) < base + 20, 'after removing the toxic, round trips are back to normal');

  // A Service port is a proxy too: add a toxic to it, then /reset clears it.
  const service = await client.get(`web.default:${servicePort}`);
  await service.addToxic({ name: 'cut', type: 'limit_data', stream: 'downstream', toxicity: 1, attributes: { bytes: 2 } } as never);
  const cut = await dialTo(t, servicePort);
  cut.write('hello');
  let received = '';
  cut.on('data', (c: Buffer) => (received += c.toString()));
  cut.on('end', () => cut.end());
  await new Promise((resolve) => cut.once('close', resolve));
  t.equal(received, 'he', 'limit_data on the Service port passed exactly 2 bytes');

  await client.reset();
  t.same((await client.get(`web.default:${servicePort}`)).toJson().name, `web.default:${servicePort}`);
  const after = await dialTo(t, servicePort);
  t.ok((await roundTripMs(after, 'hello')) >= 0, 'after /reset the Service port echoes whole again');

  // enabled: false on a Service port: new connections are reset; /reset turns it on again.
  const svc = await client.get(`web.default:${servicePort}`);
  const off = await svc.update({ enabled: false, listen: svc.listen, upstream: svc.upstream });
  t.equal(off.enabled, false);
  const outcome = await new Promise<string>((resolve) => {
    const refused = connect({ port: servicePort, host: '127.0.0.1' }, () => refused.write('x'));
    refused.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? ''));
    refused.on('close', () => resolve('closed'));
  });
  t.equal(outcome, 'ECONNRESET', 'a disabled Service port resets new connections');
  await client.reset();
  t.equal((await client.get(`web.default:${servicePort}`)).enabled, true);

  const failure = async (p: Promise<unknown>): Promise<string> => {
    try {
      await p;
      return 'resolved';
    } catch (err: unknown) {
      return err instanceof ToxiproxyError ? err.message : `not a ToxiproxyError: ${String(err)}`;
    }
  };
  t.equal(
    await failure(proxy.addToxic({ name: 'x', type: 'latency', stream: 'sideways' as never, toxicity: 1, attributes: { latency: 1 } })),
    'Request failed with status code 400',
    'an unknown stream is a 400',
  );
  t.equal(await failure(client.get('nope')), 'Request failed with status code 404', 'an unknown proxy is a 404');

  const populated = await client.populate([{ name: 'echo2', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo}` }]);
  t.ok(populated['echo2'] !== undefined, 'populate created a forward');
  await proxy.remove();
  t.same(Object.keys(await client.getAll()).sort(), ['echo2', `web.default:${servicePort}`], 'the deleted forward is gone');
});
