import t from 'tap';
import { category, summarize, type CpuProfile } from '../../scripts/bench/profile-summary.js';

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });

t.test('category sorts frames into idle, GC, native, Node, dependencies and our code', async (t) => {
  t.equal(category(frame('(idle)')), 'idle (waiting in epoll)');
  t.equal(category(frame('(garbage collector)')), 'garbage collector');
  t.equal(category(frame('(program)')), 'native (V8/libuv/syscalls, no JS frame)');
  t.equal(category(frame('onStreamRead', 'node:internal/stream_base_commons')), 'Node internals (streams, net, timers)');
  t.equal(category(frame('write', 'file:///app/node_modules/pino/lib/x.js')), 'dependencies (node_modules)');
  t.equal(category(frame('writeBuffer')), 'native bindings called from JS');
  t.equal(category(frame('pump', 'file:///app/dist/proxy/pump.js')), 'svcproxy code');
});

t.test('summarize: shares of all samples by category, and of busy samples by function', async (t) => {
  const profile: CpuProfile = {
    startTime: 0,
    endTime: 2e6,
    nodes: [
      { id: 1, callFrame: frame('(root)') },
      { id: 2, callFrame: frame('(idle)'), hitCount: 50 },
      { id: 3, callFrame: frame('writeBuffer'), hitCount: 30 },
      { id: 4, callFrame: frame('pump', 'file:///app/dist/proxy/pump.js', 41), hitCount: 20 },
    ],
  };
  const s = summarize(profile, 5);
  t.equal(s.seconds, 2);
  t.same(s.categories[0], { name: 'idle (waiting in epoll)', hits: 50, pct: 50 });
  t.same(s.busyFunctions, [
    { name: 'writeBuffer', hits: 30, pct: 60 },
    { name: 'pump dist/proxy/pump.js:42', hits: 20, pct: 40 },
  ]);
});
