/**
 * The Node a command runs on, against what package.json's `engines` asks
 * (22.15). Below it svcproxy warns and goes on, except for `--cluster`,
 * which it refuses: the Kubernetes client's HTTP stack needs 22.15's zlib
 * zstd and fails on an older Node with an error that names neither Node nor
 * svcproxy. Why warn rather than refuse the rest: Node 20 is still the
 * system Node of many machines, the manifest path has nothing known to fail
 * there, and a newcomer's first `svcproxy --check` should answer; but it is
 * not what the tests run on (Node 24), so the user is told, once, on stderr.
 */

/** package.json's `engines.node` (test/runtime.test.ts checks they agree). */
export const MIN_NODE = '22.15.0';

function below(version: string, minimum: string): boolean {
  const a = version.split('.').map(Number);
  const b = minimum.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y;
  }
  return false;
}

/** '' on a Node that is new enough; else the line to print, and whether the command must stop. */
export function nodeVersionCheck(version: string, cluster: boolean): { readonly message: string; readonly refuse: boolean } {
  if (!below(version, MIN_NODE)) return { message: '', refuse: false };
  const head = `svcproxy: this is Node ${version}; svcproxy needs Node ${MIN_NODE.replace(/\.0$/, '')} or newer (tested on Node 24 LTS)`;
  if (cluster) return { message: `${head}: --cluster cannot run on it (its Kubernetes client needs zlib zstd); install a newer Node`, refuse: true };
  return { message: `${head}; going on, but untested here: install a newer Node (see the README, "Install it as a command")`, refuse: false };
}
