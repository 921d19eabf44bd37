/**
 * `svcproxy healthcheck [--admin-address HOST:PORT] [--timeout DUR]`: exit 0
 * when svcproxy's admin server answers `GET /healthz` with 200, 1 when not,
 * 2 on a usage error. The admin address comes from the flag, else
 * SVCPROXY_ADMIN_ADDRESS, else the default, exactly as for the server; a
 * wildcard bind (0.0.0.0, ::) is checked on loopback. It is what the image's
 * HEALTHCHECK runs, so it loads as little as it can: main.ts imports this
 * module alone for the subcommand.
 */
import { parseArgs } from 'node:util';
import { parseDuration } from '../duration.js';
import { checkHealthz } from '../health/healthcheck.js';
import { DEFAULT_ADMIN_ADDRESS, dialableHost, parseHostPort } from './host-port.js';

const HEALTHCHECK_USAGE = `Usage: svcproxy healthcheck [--admin-address HOST:PORT] [--timeout DUR]

Exits 0 when svcproxy's admin server answers GET /healthz with 200, else 1.
  --admin-address HOST:PORT  the admin server (env SVCPROXY_ADMIN_ADDRESS,
                             default ${DEFAULT_ADMIN_ADDRESS}); 0.0.0.0 and :: are
                             checked on loopback
  --timeout DUR              give up after this long (default 2s)
`;

/** Runs the subcommand; `out`/`err` take one line each. Resolves with the exit code. */
export async function healthcheck(argv: readonly string[], env: NodeJS.ProcessEnv, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: { 'admin-address': { type: 'string' }, timeout: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (e: unknown) {
    err(`svcproxy healthcheck: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
  if (values.help === true) {
    out(HEALTHCHECK_USAGE);
    return 0;
  }
  const text = values['admin-address'] ?? env['SVCPROXY_ADMIN_ADDRESS'] ?? DEFAULT_ADMIN_ADDRESS;
  const address = parseHostPort(text);
  if (address === undefined) {
    err(`svcproxy healthcheck: --admin-address: "${text}" is not HOST:PORT`);
    return 2;
  }
  const timeoutMs = parseDuration(values.timeout ?? '2s');
  if (timeoutMs === undefined || timeoutMs === 0) {
    err(`svcproxy healthcheck: --timeout: "${values.timeout ?? ''}" is not a duration such as 500ms or 2s`);
    return 2;
  }
  const host = dialableHost(address.host);
  const where = `${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  const result = await checkHealthz(host, address.port, timeoutMs);
  if (result.ok) out(`healthy: ${where}/healthz: ${result.reason}`);
  else err(`unhealthy: ${where}/healthz: ${result.reason}`);
  return result.ok ? 0 : 1;
}
