/**
 * `svcproxy env [--namespace NS] [--format shell|dotenv] [options]`: the
 * Service environment variables of a Pod in NS, for `eval "$(svcproxy env)"`
 * or a compose `env_file`. The other options are svcproxy's own (the config,
 * the service range...), so the addresses printed are the ones it serves.
 */
import { parseCommand, type Options } from './options.js';

type EnvFormat = 'shell' | 'dotenv';

export type EnvCommand =
  | { readonly kind: 'env'; readonly options: Options; readonly namespace: string; readonly format: EnvFormat }
  | { readonly kind: 'help' }
  | { readonly kind: 'usage-error'; readonly message: string };

export const ENV_USAGE = `Usage: svcproxy env [--namespace|-n NS] [--format shell|dotenv] [options]

Prints the Service environment variables (REDIS_MASTER_SERVICE_HOST, ...)
the kubelet gives a container in namespace NS (default "default"), with the
addresses svcproxy serves. --format shell (default) prints export lines for
eval "$(svcproxy env)"; dotenv prints NAME=value lines for an env_file.
A namespace with no Service prints nothing on stdout and says so on stderr
(exit 0, as \`kubectl get services -n NS\` does). The other options
(--config, --service-cidr...) are those of svcproxy itself.
`;

/** Takes `--namespace` (`-n`, as kubectl)/`--format` (also `--flag=value`) out of argv; the rest are svcproxy's options. */
export function parseEnvCommand(argv: readonly string[], env: NodeJS.ProcessEnv): EnvCommand {
  let namespace = 'default';
  let format: string = 'shell';
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const given = argv[i] ?? '';
    const arg = given === '-n' ? '--namespace' : given;
    const match = /^--(namespace|format)(?:=(.*))?$/.exec(arg);
    if (match === null) {
      rest.push(arg);
      continue;
    }
    const value = match[2] ?? argv[++i];
    if (value === undefined || value === '') return { kind: 'usage-error', message: `--${match[1] ?? ''} needs a value` };
    if (match[1] === 'namespace') namespace = value;
    else format = value;
  }
  if (format !== 'shell' && format !== 'dotenv') return { kind: 'usage-error', message: `--format: "${format}" is not shell or dotenv` };
  const command = parseCommand(rest, env);
  switch (command.kind) {
    case 'run':
      return { kind: 'env', options: command.options, namespace, format };
    case 'usage-error':
      return command;
    default:
      return { kind: 'help' };
  }
}
