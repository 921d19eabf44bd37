#!/usr/bin/env node
// The `svcproxy` executable: everything else lives in app.ts, which tests import.
import { main } from './app.js';

main(process.argv.slice(2), process.env).then(
  (result) => {
    if (result !== 'serving') process.exitCode = result;
  },
  (err: unknown) => {
    process.stderr.write(`svcproxy: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
