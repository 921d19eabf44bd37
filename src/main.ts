#!/usr/bin/env node
// The `svcproxy` executable: everything else lives in app.ts, which tests import.
// `svcproxy healthcheck` loads its own small module only: a container health
// check runs every few seconds and must stay cheap.
const argv = process.argv.slice(2);

// A reader that goes away (`svcproxy --check | head`, a log pipe that dies) must not
// crash svcproxy: what is left to print is dropped; serving goes on.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
}

try {
  if (argv[0] === 'healthcheck') {
    const { healthcheck } = await import('./cli/healthcheck.js');
    process.exitCode = await healthcheck(
      argv.slice(1),
      process.env,
      (line) => process.stdout.write(`${line}\n`),
      (line) => process.stderr.write(`${line}\n`),
    );
  } else {
    const { main } = await import('./app.js');
    const result = await main(argv, process.env);
    if (result !== 'serving') process.exitCode = result;
  }
} catch (err: unknown) {
  process.stderr.write(`svcproxy: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
}
