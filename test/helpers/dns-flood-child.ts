/**
 * A child process for test/dns/abuse.test.ts: one DnsServer, nothing else,
 * so its RSS is the server's. It sends `{ port }` once listening, samples its
 * RSS every 20 ms, and answers `'rss'` with `{ baseline, peak, stats }`.
 */
import { DnsServer } from '../../src/dns/server.js';
import { zoneOf } from './dns.js';
import { silentLog } from './log.js';
import { DNS_CONFIG } from '../dns/fixtures.js';

const server = new DnsServer(
  zoneOf(DNS_CONFIG, () => true),
  { host: '127.0.0.1', port: 0, maxTcpConnections: 8, tcpIdleTimeoutMs: 10_000 },
  silentLog,
);
await server.start();
let baseline = process.memoryUsage.rss();
let peak = baseline;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage.rss());
}, 20);
process.on('message', (message: unknown) => {
  if (message === 'baseline') {
    baseline = process.memoryUsage.rss();
    peak = baseline;
    process.send?.({ baseline });
  } else if (message === 'rss') {
    peak = Math.max(peak, process.memoryUsage.rss());
    process.send?.({ baseline, peak, stats: server.stats });
  } else if (message === 'stop') {
    clearInterval(sampler);
    server.close();
    process.disconnect();
  }
});
process.send?.({ port: server.port });
