import t from 'tap';
import { captureLogger } from './helpers/log.js';

t.test("log lines carry the level as its name, not pino's number", async (t) => {
  const { log, records } = captureLogger('debug');
  log.info({ a: 1 }, 'hello');
  log.warn('careful');
  log.debug('detail');
  log.flush();
  t.match(records, [
    { level: 'info', msg: 'hello', a: 1, pid: process.pid },
    { level: 'warn', msg: 'careful' },
    { level: 'debug', msg: 'detail' },
  ]);
});
