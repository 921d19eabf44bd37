import t from 'tap';
import { parseCommand } from '../../src/cli/options.js';

function options(argv: string[], env: NodeJS.ProcessEnv = {}): Record<string, unknown> {
  const command = parseCommand(argv, env);
  if (command.kind !== 'run') throw new Error(`not run: ${JSON.stringify(command)}`);
  return command.options as unknown as Record<string, unknown>;
}

function usageError(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  const command = parseCommand(argv, env);
  return command.kind === 'usage-error' ? command.message : `not a usage error: ${command.kind}`;
}

t.test('without --cluster: no cluster, the config default as before', async (t) => {
  const o = options([]);
  t.equal(o['cluster'], undefined);
  t.same(o['config'], ['config/']);
});

t.test('--cluster alone: no file source; the namespaces are the context default', async (t) => {
  const o = options(['--cluster']);
  t.same(o['config'], []);
  t.same(o['cluster'], { kubeconfig: '', context: '', namespaces: [], allNamespaces: false, podNetwork: 'portforward' });
});

t.test('--cluster with --config (flag or variable): both', async (t) => {
  t.same(options(['--cluster', '--config', 'local/'])['config'], ['local/']);
  t.same(options(['--cluster'], { SVCPROXY_CONFIG: 'local/' })['config'], ['local/']);
});

t.test('flags and their variables; flags win', async (t) => {
  const o = options(['--cluster', '--kubeconfig', '/k', '--context', 'dev', '--namespace', 'a', '--namespace', 'b', '--namespace', 'a']);
  t.same(o['cluster'], { kubeconfig: '/k', context: 'dev', namespaces: ['a', 'b'], allNamespaces: false, podNetwork: 'portforward' });
  const env = { SVCPROXY_CLUSTER: '1', SVCPROXY_KUBECONFIG: '/e', SVCPROXY_CONTEXT: 'prod', SVCPROXY_NAMESPACE: 'x, y', SVCPROXY_POD_NETWORK: 'direct' };
  t.same(options([], env)['cluster'], { kubeconfig: '/e', context: 'prod', namespaces: ['x', 'y'], allNamespaces: false, podNetwork: 'direct' });
  t.same((options(['--context', 'flag'], env)['cluster'] as Record<string, unknown>)['context'], 'flag');
  t.same(options(['--all-namespaces', '--cluster'])['cluster'], {
    kubeconfig: '',
    context: '',
    namespaces: [],
    allNamespaces: true,
    podNetwork: 'portforward',
  });
  t.equal((options(['--cluster', '--pod-network', 'direct'])['cluster'] as Record<string, unknown>)['podNetwork'], 'direct');
  t.equal((options([], { SVCPROXY_CLUSTER: 'true', SVCPROXY_ALL_NAMESPACES: 'yes' })['cluster'] as Record<string, unknown>)['allNamespaces'], true);
  t.equal(options([], { SVCPROXY_CLUSTER: '0' })['cluster'], undefined);
});

t.test('usage errors name the flag', async (t) => {
  t.match(usageError(['--cluster', '--pod-network', 'tunnel']), /--pod-network: "tunnel" is not one of portforward, direct/);
  t.match(usageError(['--cluster', '--namespace', 'Bad_NS']), /--namespace: "Bad_NS" is not a namespace name/);
  t.match(usageError(['--cluster', '--namespace', 'a', '--all-namespaces']), /choose one/);
  t.match(usageError(['--context', 'dev']), /--context chooses what --cluster follows; add --cluster/);
  t.match(usageError([], { SVCPROXY_CLUSTER: 'maybe' }), /SVCPROXY_CLUSTER: "maybe" is not 1\/true\/yes/);
  t.match(usageError(['--cluster', '--workers', '2']), /--cluster needs --workers 1/);
});
