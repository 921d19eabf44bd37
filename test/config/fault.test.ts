import t from 'tap';
import { validateYaml } from '../helpers/config.js';

function fault(spec: string, name = 'chaos'): string {
  return `apiVersion: svcproxy.dev/v1alpha1\nkind: Fault\nmetadata: {name: ${name}}\nspec:\n${spec}`;
}

const ok = '  target: {service: web}\n  toxics: [{type: latency, attributes: {latency: 100}}]\n';
const F = 't.yaml[0] Fault default/chaos';

// Each case: a Fault and the exact issues it must produce ([] = valid).
const cases: ReadonlyArray<{ name: string; yaml: string; issues: string[] }> = [
  { name: 'a Service target with one toxic is valid', yaml: fault(ok), issues: [] },
  {
    name: 'every target kind, schedule and seed',
    yaml: [
      fault('  target: {service: web, port: http}\n  toxics: [{type: bandwidth, attributes: {rate: 100}}]\n  after: 10s\n  for: 1m\n  seed: 42\n', 'a'),
      fault('  target: {pod: web-1}\n  toxics: [{type: timeout, stream: upstream, attributes: {timeout: 0}}]\n', 'b'),
      fault('  target: {endpoint: "127.0.0.1:8080"}\n  toxics: [{type: reset_peer}]\n', 'c'),
      fault(
        '  target: {podSelector: {matchLabels: {app: web}}}\n  toxics: [{type: slicer, attributes: {average_size: 10, size_variation: 5, delay: 100}}, {type: limit_data, stream: UPSTREAM, attributes: {bytes: 5}}, {type: slow_close, attributes: {delay: 1}}]\n',
        'd',
      ),
    ].join('---\n'),
    issues: [],
  },
  {
    name: 'the target and the toxics are required',
    yaml: fault('  seed: 1\n'),
    issues: [`${F}: spec.target: Required value: one of service, pod, endpoint or podSelector`, `${F}: spec.toxics: Required value: at least one toxic`],
  },
  {
    name: 'an empty target names nothing',
    yaml: fault('  target: {}\n  toxics: [{type: latency}]\n'),
    issues: [`${F}: spec.target: Required value: one of service, pod, endpoint or podSelector`],
  },
  {
    name: 'pod, endpoint and podSelector are exclusive; port needs service',
    yaml: fault('  target: {pod: a, endpoint: "1.2.3.4:80", port: 80}\n  toxics: [{type: latency}]\n'),
    issues: [
      `${F}: spec.target.port: Forbidden: may only be set with spec.target.service`,
      `${F}: spec.target: Forbidden: at most one of pod, endpoint and podSelector may be set`,
    ],
  },
  {
    name: "unknown fields are errors (svcproxy's own kinds are strict)",
    yaml: fault('  target: {service: web, namespace: x}\n  toxics: [{type: latency, jitter: 5}]\n  duration: 5s\n'),
    issues: [
      `${F}: spec.duration: unknown field "spec.duration"`,
      `${F}: spec.target.namespace: unknown field "spec.target.namespace"`,
      `${F}: spec.toxics[0].jitter: unknown field "spec.toxics[0].jitter"`,
    ],
  },
  {
    name: 'toxic type, stream, toxicity and attribute ranges',
    yaml: fault(
      '  target: {service: web}\n  toxics:\n' +
        '    - {type: corrupt}\n' +
        '    - {type: latency, stream: sideways}\n' +
        '    - {type: latency, toxicity: 1.5, attributes: {latency: -1, jitter: 0.5}}\n' +
        '    - {type: slicer, attributes: {average_size: 0}}\n' +
        '    - {type: slicer, name: s2, attributes: {average_size: 10, size_variation: 10}}\n' +
        '    - {attributes: {}}\n',
    ),
    issues: [
      `${F}: spec.toxics[0].type: Unsupported value: "corrupt": supported values: "latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data"`,
      `${F}: spec.toxics[1].stream: Unsupported value: "sideways": supported values: "upstream", "downstream"`,
      `${F}: spec.toxics[2].toxicity: Invalid value: 1.5: toxicity must be a number from 0 to 1`,
      `${F}: spec.toxics[2].attributes.latency: Invalid value: -1: latency must be a whole number from 0 to 86400000 (ms)`,
      `${F}: spec.toxics[2].attributes.jitter: Invalid value: 0.5: jitter must be a whole number from 0 to 86400000 (ms)`,
      `${F}: spec.toxics[3].attributes.average_size: Invalid value: 0: average_size must be a whole number from 1 to 16777216 (bytes)`,
      `${F}: spec.toxics[4].attributes.size_variation: Invalid value: 10: size_variation must be smaller than average_size (every piece is at least 1 byte)`,
      `${F}: spec.toxics[5].type: Required value: invalid toxic type`,
    ],
  },
  {
    name: 'toxic names are unique within a Fault (the default is <type>_<stream>)',
    yaml: fault('  target: {service: web}\n  toxics: [{type: latency}, {type: latency}]\n'),
    issues: [`${F}: spec.toxics[1].name: Duplicate value: "latency_downstream": toxic names must be unique within a Fault (the default is <type>_<stream>)`],
  },
  {
    name: 'durations and seed',
    yaml: fault(`${ok}  after: soon\n  for: 0s\n  seed: -1\n`),
    issues: [
      `${F}: spec.after: Invalid value: "soon": must be a duration from 0 to 168h, such as 500ms, 30s or 5m`,
      `${F}: spec.for: Invalid value: "0s": must be a duration greater than 0 to 168h, such as 500ms, 30s or 5m`,
      `${F}: spec.seed: Invalid value: -1: must be a whole number from 0 to 4294967295`,
    ],
  },
  {
    name: 'target names follow Kubernetes rules',
    yaml: fault('  target: {service: Web, port: 0}\n  toxics: [{type: latency}]\n'),
    issues: [
      `${F}: spec.target.service: Invalid value: "Web": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character`,
      `${F}: spec.target.port: Invalid value: 0: must be between 1 and 65535, inclusive`,
    ],
  },
  {
    name: 'another apiVersion is an error',
    yaml: `apiVersion: svcproxy.dev/v1\nkind: Fault\nmetadata: {name: x}\nspec:\n${ok}`,
    issues: ['t.yaml[0] Fault x: apiVersion: Unsupported value: "svcproxy.dev/v1": supported values: "svcproxy.dev/v1alpha1"'],
  },
  {
    name: 'two Faults with one name',
    yaml: `${fault(ok)}---\n${fault(ok)}`,
    issues: ['t.yaml[1] Fault default/chaos: metadata.name: Duplicate value: "chaos": Fault default/chaos is already defined at t.yaml[0]'],
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    t.same(validateYaml(c.yaml).issues, c.issues);
  });
}

t.test('a valid Fault reads into a typed spec with defaults', async (t) => {
  const { snapshot } = validateYaml(fault(`${ok}  after: 1.5s\n  seed: 9\n`));
  t.same(snapshot.faults[0], {
    kind: 'Fault',
    namespace: 'default',
    name: 'chaos',
    source: { file: 't.yaml', doc: 0 },
    target: { service: 'web', port: undefined, pod: undefined, endpoint: undefined, podSelector: undefined },
    toxics: [{ name: 'latency_downstream', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 100, jitter: 0 } }],
    afterMs: 1500,
    forMs: 0,
    seed: 9,
  });
});
