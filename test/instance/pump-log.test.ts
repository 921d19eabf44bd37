/**
 * The start-up log names the pump that actually carries connections (issue
 * 23, point 6): with the toxiproxy API on, every connection runs on the
 * JavaScript toxic pump, so the line must not say "native splice".
 */
import t, { type Test } from 'tap';
import { nativePumpUnavailable, sharedNativePump } from '../../src/proxy/pump-choice.js';
import { metric, scrape } from '../helpers/admin.js';
import { serviceWithEndpoints, startInstance } from '../helpers/instance.js';
import { captureLogger } from '../helpers/log.js';
import { freePort, request, startEchoServer } from '../helpers/net.js';
import { configDir } from '../helpers/process.js';

const native = sharedNativePump() !== undefined;

async function handoffsAfterTwoConnections(t: Test, withApi: boolean): Promise<{ handoffs: number; pumpLines: string[] }> {
  const echo = await startEchoServer(t);
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', port, [echo]) });
  const { log, records } = captureLogger('info');
  const proxy = await startInstance(t, dir, withApi ? { toxiproxy: { host: '127.0.0.1', port: 0 } } : {}, log);
  const before = metric(await scrape(proxy.adminPort), 'svcproxy_native_pump_handoffs_total');
  for (const payload of ['one', 'two']) t.equal((await request(port, payload)).data.toString(), payload, 'echoed through the Service');
  const after = metric(await scrape(proxy.adminPort), 'svcproxy_native_pump_handoffs_total');
  return { handoffs: after - before, pumpLines: records.map((r) => String(r['msg'])).filter((m) => m.startsWith('pump: ') || m.includes('splice pump')) };
}

t.test('--toxiproxy-address: the line says the toxic pump carries every connection, and none is handed to the native pump', async (t) => {
  const { handoffs, pumpLines } = await handoffsAfterTwoConnections(t, true);
  t.equal(handoffs, 0, 'no hand-off to the native pump');
  t.same(pumpLines, [
    `pump: JavaScript toxic pump for every TCP connection (--toxiproxy-address: a toxic may be added to any open connection; native splice pump ${native ? 'loaded, carries none' : 'not in use'})`,
  ]);
});

t.test('without the API, the line names the native splice pump only where it carries the connections', async (t) => {
  const { handoffs, pumpLines } = await handoffsAfterTwoConnections(t, false);
  if (native) {
    t.equal(handoffs, 2, 'both connections handed to the native pump');
    t.same(pumpLines, ['pump: native splice']);
  } else {
    t.equal(handoffs, 0);
    t.same(pumpLines, ['native splice pump unavailable; using the JavaScript pump'], nativePumpUnavailable());
  }
});
