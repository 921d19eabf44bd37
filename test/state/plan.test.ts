import t from 'tap';
import { describeChange, planChanges } from '../../src/state/plan.js';
import { listenerKey, servicePortKey, type DesiredState, type ListenerPlan, type ServicePortPlan } from '../../src/state/types.js';
import { endpoint, servicePortPlan } from '../helpers/proxy.js';

function sp(name: string, hosts: string[] = []): ServicePortPlan {
  return servicePortPlan(
    hosts.map((host) => endpoint(80, host)),
    name,
  );
}

function listener(service: string, port: number, address = '127.0.0.1'): ListenerPlan {
  return {
    key: listenerKey('TCP', address, port),
    servicePort: servicePortKey('default', service, ''),
    protocol: 'TCP',
    address,
    port,
    role: 'bindAddress',
  };
}

function state(ports: ServicePortPlan[], listeners: ListenerPlan[]): DesiredState {
  return {
    servicePorts: new Map(ports.map((p) => [p.key, p])),
    listeners: new Map(listeners.map((l) => [l.key, l])),
    probes: new Map(),
    nodePorts: new Map(),
    services: new Map(),
    serviceAddresses: new Map(),
    faults: [],
    pods: new Map(),
    ownedPods: new Map(),
  };
}

const cases: ReadonlyArray<{ name: string; from: DesiredState; to: DesiredState; want: string[] }> = [
  {
    name: 'from nothing: add the Service port, then open its listener',
    from: state([], []),
    to: state([sp('a', ['10.0.0.1'])], [listener('a', 80)]),
    want: ['add-service-port default/a (1 endpoints)', 'open-listener TCP 127.0.0.1:80 -> default/a'],
  },
  {
    name: 'nothing changed: no changes',
    from: state([sp('a', ['10.0.0.1'])], [listener('a', 80)]),
    to: state([sp('a', ['10.0.0.1'])], [listener('a', 80)]),
    want: [],
  },
  {
    name: 'endpoints changed: update in place, never rebind',
    from: state([sp('a', ['10.0.0.1'])], [listener('a', 80)]),
    to: state([sp('a', ['10.0.0.2'])], [listener('a', 80)]),
    want: ['update-service-port default/a (1 endpoints)'],
  },
  {
    name: 'port moved: close the old listener before opening the new one',
    from: state([sp('a')], [listener('a', 80)]),
    to: state([sp('a')], [listener('a', 81)]),
    want: ['close-listener TCP 127.0.0.1:80', 'open-listener TCP 127.0.0.1:81 -> default/a'],
  },
  {
    name: 'address changed: close and open',
    from: state([sp('a')], [listener('a', 80)]),
    to: state([sp('a')], [listener('a', 80, '127.0.0.2')]),
    want: ['close-listener TCP 127.0.0.1:80', 'open-listener TCP 127.0.0.2:80 -> default/a'],
  },
  {
    name: 'a Service removed: close its listener, then remove it',
    from: state([sp('a'), sp('b')], [listener('a', 80), listener('b', 81)]),
    to: state([sp('a')], [listener('a', 80)]),
    want: ['close-listener TCP 127.0.0.1:81', 'remove-service-port default/b'],
  },
  {
    name: 'a socket handed from one Service to another is retargeted, not rebound',
    from: state([sp('a'), sp('b')], [listener('a', 80)]),
    to: state([sp('a'), sp('b')], [listener('b', 80)]),
    want: ['retarget-listener TCP 127.0.0.1:80 -> default/b'],
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    t.same(planChanges(c.from, c.to).map(describeChange), c.want);
  });
}
