/**
 * The configurations the bench writes for each proxy, as pure functions so
 * they can be read (and tested) side by side. "Equivalent" here means: plain
 * TCP forwarding, one process or worker doing the work, no access logging,
 * TCP_NODELAY on both sides, half-close passed through, same backends, every
 * buffer and timeout left at the product's default unless a line says why.
 */
import { assertLoopback } from './loopback.js';

/** The two backend ports, or the two frontend ports a proxy listens on. */
export interface PortPair {
  readonly discard: number;
  readonly echo: number;
}

export interface ProxyConfigInput {
  readonly host: string;
  readonly listen: PortPair;
  readonly backends: PortPair;
  /** Connections the proxy must accept at once (the memory step holds thousands). */
  readonly maxConnections: number;
}

function checked(input: ProxyConfigInput): ProxyConfigInput {
  assertLoopback(input.host, 'proxy config');
  return input;
}

/** Two selector-less Services whose EndpointSlices list no ports: svcproxy dials each Service's targetPort. */
export function svcproxyManifests(input: ProxyConfigInput): string {
  const { host, listen, backends } = checked(input);
  const service = (name: string, port: number, targetPort: number): string => `apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec:
  ports:
    - port: ${port}
      targetPort: ${targetPort}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}-1
  labels: {kubernetes.io/service-name: ${name}}
addressType: IPv4
endpoints:
  - addresses: ["${host}"]
`;
  return `# svcproxy bench: written by scripts/bench; removed after the run.\n${service('bench-discard', listen.discard, backends.discard)}---\n${service('bench-echo', listen.echo, backends.echo)}`;
}

/**
 * HAProxy: TCP mode, one thread, no `log` line (so nothing is logged). HAProxy
 * sets TCP_NODELAY on its sockets itself, and in TCP mode forwards a shutdown
 * to the other side (half-close) by default. No splice: svcproxy cannot splice.
 */
export function haproxyConfig(input: ProxyConfigInput): string {
  const { host, listen, backends, maxConnections } = checked(input);
  const pair = (name: string, port: number, backend: number): string => `
frontend ${name}
    bind ${host}:${port}
    default_backend ${name}

backend ${name}
    server ${name}1 ${host}:${backend}
`;
  return `# svcproxy bench: written by scripts/bench; removed after the run.
global
    nbthread 1
    maxconn ${maxConnections}

defaults
    mode tcp
    maxconn ${maxConnections}
    timeout connect 5s
    timeout client 120s
    timeout server 120s
${pair('discard', listen.discard, backends.discard)}${pair('echo', listen.echo, backends.echo)}`;
}

export interface NginxConfigInput extends ProxyConfigInput {
  /** The stream module's .so when nginx has it as a dynamic module; undefined when built in. */
  readonly streamModule: string | undefined;
  /** Where nginx may write its pid file. */
  readonly runDir: string;
}

/**
 * nginx stream: one worker (plus the idle master), error log at `crit` to
 * stderr, no access log, `tcp_nodelay on` (the default, said out loud), and
 * `proxy_half_close on` (off by default, and without it nginx closes both
 * directions at the client's FIN, which would lose the discard server's reply).
 */
export function nginxConfig(input: NginxConfigInput): string {
  const { host, listen, backends, maxConnections } = checked(input);
  const server = (port: number, backend: number): string => `
    server {
        listen ${host}:${port};
        proxy_pass ${host}:${backend};
    }
`;
  return `# svcproxy bench: written by scripts/bench; removed after the run.
${input.streamModule === undefined ? '' : `load_module ${input.streamModule};\n`}daemon off;
worker_processes 1;
worker_rlimit_nofile ${2 * maxConnections + 64};
pid ${input.runDir}/nginx.pid;
error_log stderr crit;

events {
    worker_connections ${2 * maxConnections + 64};
}

stream {
    access_log off;
    tcp_nodelay on;
    proxy_half_close on;
    proxy_connect_timeout 5s;
    proxy_timeout 120s;
${server(listen.discard, backends.discard)}${server(listen.echo, backends.echo)}}
`;
}

/** The reload step's Service (`bench-reload` on `listen`), in a file of its own that is never rewritten. */
export function reloadService(host: string, listen: number): string {
  assertLoopback(host, 'reload config');
  return `# svcproxy bench, reload step: written by scripts/bench; removed after the run.
apiVersion: v1
kind: Service
metadata: {name: bench-reload}
spec:
  ports: [{port: ${listen}}]
`;
}

/** The reload step's EndpointSlice: the one file each reload replaces, pointing at one backend's port. */
export function reloadSlice(host: string, backendPort: number): string {
  assertLoopback(host, 'reload config');
  return `# svcproxy bench, reload step: rewritten (temp file + rename) at every reload.
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: bench-reload-1
  labels: {kubernetes.io/service-name: bench-reload}
addressType: IPv4
ports: [{name: "", port: ${backendPort}}]
endpoints:
  - addresses: ["${host}"]
`;
}
