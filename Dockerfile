# syntax=docker/dockerfile:1
# svcproxy container image: compiled JavaScript on the official Node image.
ARG NODE_VERSION=20

# ---- build: dev dependencies, compile TypeScript -> dist/
FROM node:${NODE_VERSION}-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- deps: production node_modules only
FROM node:${NODE_VERSION}-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts

# ---- runtime
FROM node:${NODE_VERSION}-slim
ENV NODE_ENV=production \
    SVCPROXY_CONFIG=/etc/svcproxy \
    SVCPROXY_BIND_ADDRESS=0.0.0.0 \
    SVCPROXY_ADMIN_ADDRESS=0.0.0.0:9901
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config/ /etc/svcproxy/
USER node
EXPOSE 8080 9901
# No curl in the slim image: Node's own fetch checks the admin server.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9901/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "--enable-source-maps", "dist/main.js"]
