import t from 'tap';
import { FULL, parseBenchArgs, SMOKE, USAGE, type Parsed } from '../../scripts/bench/options.js';

function run(p: Parsed): Extract<Parsed, { kind: 'run' }>['options'] {
  if (p.kind !== 'run') throw new Error(`expected a run, got ${JSON.stringify(p)}`);
  return p.options;
}

t.test('no flags: the full sizes, every target and step, C when available, loopback 127.0.0.1', async (t) => {
  const o = run(parseBenchArgs([]));
  t.same(o.sizes, FULL);
  t.equal(o.sizes.bulk1Bytes, 1024 ** 3, 'step 1 uploads at least 1 GiB');
  t.equal(o.sizes.holdConns, 5000);
  t.same(o.targets, ['direct', 'svcproxy', 'svcproxy-js', 'node-pipe', 'haproxy', 'nginx']);
  t.same(o.steps, ['bulk1', 'bulk16', 'rate', 'rtt', 'memory', 'reload', 'portforward']);
  t.equal(o.impl, 'auto');
  t.equal(o.host, '127.0.0.1');
  t.equal(o.svcproxy, 'dist/main.js');
  t.equal(o.workers, 1, 'svcproxy runs as one process, as the peers do');
  t.equal(o.outDir, 'bench/results');
  t.equal(o.maxSeconds, 480);
  t.equal(o.kubectl, undefined, 'step 7 runs the kubectl on PATH');
  t.notOk(o.updateReadme);
  t.notOk(o.cpuProf);
  t.notOk(o.pin);
  const all = run(parseBenchArgs(['--pin', '--cpu-prof', '--update-readme', '--example']));
  t.ok(all.pin && all.cpuProf && all.updateReadme && all.example);
});

t.test('--smoke picks the tiny sizes; --hold and --reps override them', async (t) => {
  t.same(run(parseBenchArgs(['--smoke'])).sizes, SMOKE);
  const o = run(parseBenchArgs(['--smoke', '--hold', '42', '--reps', '2']));
  t.equal(o.sizes.holdConns, 42);
  t.equal(o.sizes.reps, 2);
  t.equal(o.sizes.bulk1Bytes, SMOKE.bulk1Bytes);
});

t.test('the reload step does --reps x reloadsPerRep reloads, each with a deadline', async (t) => {
  t.equal(FULL.reps * FULL.reloadsPerRep, 21, 'about 20 reloads in a full run');
  t.ok(SMOKE.reps * SMOKE.reloadsPerRep <= 3, 'a few with --smoke');
  const o = run(parseBenchArgs(['--reps', '2', '--steps', 'reload']));
  t.same(o.steps, ['reload']);
  t.equal(o.sizes.reps * o.sizes.reloadsPerRep, 2 * FULL.reloadsPerRep);
  t.equal(run(parseBenchArgs(['--smoke', '--reps', '2'])).sizes.reloadsPerRep, SMOKE.reloadsPerRep);
  t.ok(FULL.reloadMaxMs > 0 && SMOKE.reloadMaxMs > 0);
  t.match(USAGE, /step 6 \(reload\) does N x 7 reloads/);
});

t.test('--svcproxy PATH picks the entry point (an older build can be compared side by side)', async (t) => {
  t.equal(run(parseBenchArgs(['--svcproxy', '/elsewhere/dist/main.js'])).svcproxy, '/elsewhere/dist/main.js');
});

t.test('--workers N runs svcproxy with --workers N', async (t) => {
  t.equal(run(parseBenchArgs(['--workers', '2'])).workers, 2);
  t.same(parseBenchArgs(['--workers', '0']), { kind: 'usage-error', message: '--workers: "0" is not a positive integer' });
});

t.test('--targets keeps the canonical order and always includes direct', async (t) => {
  t.same(run(parseBenchArgs(['--targets', 'nginx,svcproxy'])).targets, ['direct', 'svcproxy', 'nginx']);
});

t.test('--steps selects steps in order', async (t) => {
  t.same(run(parseBenchArgs(['--steps', 'memory,bulk1'])).steps, ['bulk1', 'memory']);
});

const errors: ReadonlyArray<{ args: string[]; message: string | RegExp }> = [
  { args: ['--host', '10.0.0.1'], message: '--host: refusing "10.0.0.1": the bench only runs on IPv4 loopback (127.0.0.0/8)' },
  { args: ['--host', '0.0.0.0'], message: /refusing "0\.0\.0\.0"/ },
  { args: ['--host', 'localhost'], message: /refusing "localhost"/ },
  { args: ['--host', '::1'], message: /refusing "::1"/ },
  { args: ['--targets', 'envoy'], message: '--targets: unknown envoy; choose from direct, svcproxy, svcproxy-js, node-pipe, haproxy, nginx' },
  { args: ['--steps', 'bulk2'], message: '--steps: unknown bulk2; choose from bulk1, bulk16, rate, rtt, memory, reload' },
  { args: ['--impl', 'rust'], message: '--impl: "rust" is not auto, c or node' },
  { args: ['--hold', '0'], message: '--hold: "0" is not a positive integer' },
  { args: ['--reps', 'x'], message: '--reps: "x" is not a positive integer' },
  { args: ['--max-seconds', '-1'], message: /--max-seconds/ },
  { args: ['--bogus'], message: /Unknown option '--bogus'/ },
];
for (const c of errors) {
  t.test(`usage error: ${c.args.join(' ')}`, async (t) => {
    const p = parseBenchArgs(c.args);
    t.equal(p.kind, 'usage-error');
    if (p.kind === 'usage-error') t.match(p.message, c.message);
  });
}

t.test('--help', async (t) => {
  t.same(parseBenchArgs(['--help']), { kind: 'help' });
});

t.test('a loopback address other than 127.0.0.1 is accepted', async (t) => {
  t.equal(run(parseBenchArgs(['--host', '127.0.0.2'])).host, '127.0.0.2');
});
