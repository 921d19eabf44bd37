#!/bin/sh
# tap rebuilds its Test class when the configured plugin list changes, but the run
# that notices the change still starts test processes with the OLD plugin loaders
# (the default @tapjs/typescript -> ts-node, which crashes with TypeScript 7, which
# has no compiler API). So rebuild up front whenever node_modules holds tap's
# default build. See ../shared/toolchain.md §0.
f=node_modules/@tapjs/test/test-built/dist/esm/index.js
if [ ! -f "$f" ] || grep -qx '@tapjs/typescript' "$f"; then
  exec npx tap build
fi
