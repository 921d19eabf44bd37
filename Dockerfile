# syntax=docker/dockerfile:1
# svcproxy container image: compiled JavaScript and the native splice pump on
# the official Node image (slim). Four stages: native (toolchain, the .node),
# build (tsc), deps (production node_modules), and the runtime image.
#
#   docker build -t svcproxy .
#   docker run --rm --init -p 8080:8080 -p 127.0.0.1:9901:9901 svcproxy
#
# The Node major is a build argument (--build-arg NODE_VERSION=22); the code
# runs on 22.12 and later; 24 is the LTS it is tested on.
ARG NODE_VERSION=24

# ---- native: the C toolchain and the native splice pump (native/splice-pump),
# built by the package's install script (scripts/build-native.mjs) with npm's
# own node-gyp, against the Node headers the base image carries. Without a
# toolchain (--build-arg TOOLCHAIN=) the script says "native splice pump not
# built" in the build log and exits 0: the image then carries the JavaScript
# pump, and svcproxy says so when it starts. Only the .node file leaves this
# stage (staged in /out; an empty tree when nothing was built).
FROM node:${NODE_VERSION}-slim AS native
ARG TOOLCHAIN="g++ make python3"
RUN if [ -n "$TOOLCHAIN" ]; then \
      apt-get update && apt-get install -y --no-install-recommends $TOOLCHAIN && rm -rf /var/lib/apt/lists/*; \
    else echo "svcproxy: TOOLCHAIN is empty: no compiler in this build"; fi
WORKDIR /app
COPY package.json ./
COPY scripts/build-native.mjs ./scripts/
COPY native/splice-pump/binding.gyp ./native/splice-pump/
COPY native/splice-pump/src ./native/splice-pump/src
RUN npm run install && mkdir -p /out/native/splice-pump/build/Release && \
    if [ -f native/splice-pump/build/Release/splice_pump.node ]; then \
      cp native/splice-pump/build/Release/splice_pump.node /out/native/splice-pump/build/Release/; fi

# ---- build: all dependencies (TypeScript is a devDependency); compile src/ -> dist/
FROM node:${NODE_VERSION}-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no install script runs, so the `node` devDependency (Node 24
# from the npm registry, which runs the test suite on developer machines) is not
# downloaded here, and the native pump is not built twice (the native stage
# does it). Its bin link could still point at a binary that is not there
# (or, with another npm, be one), and npm scripts put node_modules/.bin first on
# PATH: remove it, so `npm run build` runs on this image's own Node.
RUN npm ci --ignore-scripts && rm -f node_modules/.bin/node
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- deps: production node_modules only
FROM node:${NODE_VERSION}-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts

# ---- runtime: compiled output, production dependencies, the native pump's
# .node (when built), package.json (for "type": "module" and the version), the
# bundled config. No compiler, no devDependency. Owned by root, so
# read-only to the unprivileged node user (uid 1000) that runs svcproxy.
FROM node:${NODE_VERSION}-slim
ARG NODE_VERSION
# OCI image annotations (docker inspect, registries). The version is
# package.json's; test/container/dockerfile.test.ts keeps the two equal.
LABEL org.opencontainers.image.title="svcproxy" \
      org.opencontainers.image.description="Kubernetes Service forwarding on one machine: a userspace TCP/UDP proxy that reads Service, EndpointSlice and Pod manifests" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="node:${NODE_VERSION}-slim"
# Listeners and the admin server bind 0.0.0.0: a published port reaches a
# container only through its network interface, never its loopback. Publish
# the admin port to the host's loopback only (-p 127.0.0.1:9901:9901).
# Change the admin port with SVCPROXY_ADMIN_ADDRESS, not --admin-address:
# the HEALTHCHECK below reads the variable.
ENV NODE_ENV=production \
    SVCPROXY_CONFIG=/etc/svcproxy \
    SVCPROXY_BIND_ADDRESS=0.0.0.0 \
    SVCPROXY_ADMIN_ADDRESS=0.0.0.0:9901
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# src/native/splice-addon.ts looks for native/splice-pump/build/Release/splice_pump.node above dist/.
COPY --from=native /out/native ./native
COPY package.json ./
# The bundled config (a Service on 8080 in front of the admin server on 9901)
# makes the bare image runnable. Mount your own config DIRECTORY over it
# (-v "$PWD/config:/etc/svcproxy:ro"): a single-file bind mount goes stale when an
# editor saves by renaming. No VOLUME: it would leave an anonymous volume behind
# on every run without --rm, and the config is read-only input, not data.
COPY config/ /etc/svcproxy/
USER node
EXPOSE 8080 9901
# `svcproxy healthcheck`: one raw GET /healthz on the admin server at the
# address in SVCPROXY_ADMIN_ADDRESS (0.0.0.0 and :: are dialled as loopback),
# loading node:net and nothing else of svcproxy (no curl or wget in the slim
# image, and no fetch: about 50 ms and 45-50 MB at peak instead of 0.4 s and
# 84 MB).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "dist/main.js", "healthcheck"]
# svcproxy runs as PID 1 (exec-form ENTRYPOINT, no shell in between) and
# handles SIGTERM and SIGINT itself: it stops accepting, closes its listeners
# and exits 0. `docker run --init` / compose `init: true` adds a reaper too.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "--enable-source-maps", "dist/main.js"]
