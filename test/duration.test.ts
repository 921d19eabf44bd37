import t from 'tap';
import { parseDuration } from '../src/duration.js';

t.test('Go-style durations', async (t) => {
  const cases: ReadonlyArray<[string, number | undefined]> = [
    ['0', 0],
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1.5s', 1500],
    ['.5s', 500],
    ['', undefined],
    ['5', undefined],
    ['-1s', undefined],
    ['5 s', undefined],
    ['5d', undefined],
    ['s', undefined],
    ['1s ', undefined],
  ];
  for (const [text, want] of cases) t.equal(parseDuration(text), want, JSON.stringify(text));
});
