{
  # Built by scripts/build-native.mjs (the package's install script) with npm's
  # own node-gyp. Plain C against node_api.h: no node-addon-api dependency.
  "targets": [
    {
      "target_name": "splice_pump",
      # splice_pump.c: the connections, the splice loop, the thread, the N-API surface;
      # pipe_pool.c: the pool of pipes they borrow.
      "sources": ["src/splice_pump.c", "src/pipe_pool.c"],
      # N-API 8 is in Node 20's headers (the system's, npm's nodedir) and in every
      # Node the package supports (>= 22.12), so one build runs on all of them.
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags_c": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
      "conditions": [
        ["OS!='linux'", { "sources!": ["src/splice_pump.c", "src/pipe_pool.c"], "sources": ["src/unsupported.c"] }]
      ]
    }
  ]
}
