import t from 'tap';
import { SMOKE } from '../../scripts/bench/options.js';
import type { BenchResults } from '../../scripts/bench/report.js';
import { escapeXml, renderSvg } from '../../scripts/bench/svg.js';

const results = {
  date: '2026-11-24T21:00:00.000Z',
  smoke: true,
  sizes: SMOKE,
  machine: { cpu: 'CPU <x> & co', cores: 2, kernel: '6.1', node: 'v20.20.2' },
  generator: { impl: 'c', description: 'C' },
  figures: { direct: { bulk1_MBps: 4000 }, svcproxy: { bulk1_MBps: 1000, rss_per_conn_KiB: 10 }, nginx: { bulk1_MBps: 2000 } },
  ratios: { svcproxy: { nginx: { bulk1_MBps: 0.5 } } },
} as unknown as BenchResults;

t.test('escapeXml escapes the five characters that matter', async (t) => {
  t.equal(escapeXml(`<a href="x">&</a>`), '&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;');
});

t.test('the chart is one standalone SVG with a bar per target per figure, scaled per figure', async (t) => {
  const svg = renderSvg(results);
  t.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  t.match(svg, /<\/svg>\n$/);
  t.match(svg, /CPU &lt;x&gt; &amp; co/, 'text is escaped');
  t.match(svg, /SMOKE RUN/);
  t.match(svg, /1\. bulk, 1 conn \(MB\/s, higher is better\)/);
  t.match(svg, /width="250\.0" height="16" fill="#8c8c8c"/, 'the largest value gets the full width');
  t.match(svg, /width="62\.5" height="16" fill="#2b6cb0"/, 'a quarter of it, a quarter of the width');
  t.match(svg, />1,000 \(0\.50x nginx\)</, "svcproxy's bar says how it compares with a peer");
  t.match(svg, />4,000</);
  t.match(svg, />n\/a</, 'a figure a target does not have');
  t.notMatch(svg, /haproxy/, 'targets that did not run get no bars');
});
