import t from 'tap';
import { parse } from 'yaml';
import { haproxyConfig, nginxConfig, svcproxyManifests, type ProxyConfigInput } from '../../scripts/bench/configs.js';

const input: ProxyConfigInput = { host: '127.0.0.1', listen: { discard: 40001, echo: 40002 }, backends: { discard: 50001, echo: 50002 }, maxConnections: 5064 };

t.test('svcproxy: two selector-less Services whose port-less slices send each port to its targetPort', async (t) => {
  const docs = svcproxyManifests(input)
    .split(/^---$/m)
    .map((d) => parse(d) as Record<string, unknown>);
  t.equal(docs.length, 4);
  t.match(docs[0], { kind: 'Service', metadata: { name: 'bench-discard' }, spec: { ports: [{ port: 40001, targetPort: 50001 }] } });
  t.match(docs[1], {
    kind: 'EndpointSlice',
    metadata: { labels: { 'kubernetes.io/service-name': 'bench-discard' } },
    endpoints: [{ addresses: ['127.0.0.1'] }],
  });
  t.notOk('ports' in (docs[1] ?? {}), 'no ports: svcproxy dials the targetPort');
  t.match(docs[2], { kind: 'Service', metadata: { name: 'bench-echo' }, spec: { ports: [{ port: 40002, targetPort: 50002 }] } });
  t.match(docs[3], { kind: 'EndpointSlice', metadata: { name: 'bench-echo-1' } });
});

t.test('HAProxy: TCP mode, one thread, no log line, both frontends on loopback', async (t) => {
  const cfg = haproxyConfig(input);
  t.match(cfg, /^\s+nbthread 1$/m);
  t.match(cfg, /^\s+mode tcp$/m);
  t.match(cfg, /^\s+maxconn 5064$/m);
  t.notMatch(cfg, /^\s*log\b/m, 'nothing is logged');
  t.match(cfg, /bind 127\.0\.0\.1:40001\n\s+default_backend discard/);
  t.match(cfg, /server discard1 127\.0\.0\.1:50001/);
  t.match(cfg, /bind 127\.0\.0\.1:40002/);
  t.match(cfg, /server echo1 127\.0\.0\.1:50002/);
});

t.test('nginx: one worker, half-close on, nodelay on, no access log, module loaded only when dynamic', async (t) => {
  const cfg = nginxConfig({ ...input, streamModule: '/usr/lib/nginx/modules/ngx_stream_module.so', runDir: '/tmp/x/run' });
  t.match(cfg, /^load_module \/usr\/lib\/nginx\/modules\/ngx_stream_module\.so;$/m);
  t.match(cfg, /^worker_processes 1;$/m);
  t.match(cfg, /^daemon off;$/m);
  t.match(cfg, /^pid \/tmp\/x\/run\/nginx\.pid;$/m);
  t.match(cfg, /proxy_half_close on;/);
  t.match(cfg, /tcp_nodelay on;/);
  t.match(cfg, /access_log off;/);
  t.match(cfg, /listen 127\.0\.0\.1:40001;\n\s+proxy_pass 127\.0\.0\.1:50001;/);
  t.match(cfg, /listen 127\.0\.0\.1:40002;\n\s+proxy_pass 127\.0\.0\.1:50002;/);
  t.match(cfg, /worker_connections 10192;/, 'two sockets per held connection, plus slack');
  t.notMatch(nginxConfig({ ...input, streamModule: undefined, runDir: '/r' }), /load_module/);
});

t.test('every generator refuses a non-loopback host', async (t) => {
  const bad = { ...input, host: '192.0.2.1' };
  t.throws(() => svcproxyManifests(bad), { name: 'NotLoopbackError' });
  t.throws(() => haproxyConfig(bad), { name: 'NotLoopbackError' });
  t.throws(() => nginxConfig({ ...bad, streamModule: undefined, runDir: '/r' }), { name: 'NotLoopbackError' });
});
