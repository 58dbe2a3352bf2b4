# Portcullis gateway image.
#   docker build -t portcullis:0.1.0 .
#   docker run --read-only --tmpfs /tmp -v portcullis-data:/var/lib/portcullis \
#     -v "$PWD/gateway.yaml:/etc/portcullis/config.yaml:ro" -p 8080:8080 portcullis:0.1.0
#
# Stages: toolchain (python3, make, g++ for better-sqlite3's native build) → deps (`npm ci`, every
# dependency) → build (`npm run build`: tsc -p tsconfig.build.json → dist/) and, in parallel,
# prod-deps (`npm ci --omit=dev`) → runtime: the slim base image with dist/ and the production
# node_modules only. No compiler, no npm cache and no sources reach the final image.
# The build steps are the ones CI runs: `npm ci`, then `npm run build` (scripts/check-chart.sh).

FROM node:20-bookworm-slim AS toolchain
# node-gyp builds against the headers shipped with the image instead of downloading them.
ENV npm_config_nodedir=/usr/local \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json .npmrc ./

FROM toolchain AS deps
RUN npm ci

FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM toolchain AS prod-deps
RUN npm ci --omit=dev \
    && npm cache clean --force

FROM node:20-bookworm-slim AS runtime
LABEL org.opencontainers.image.title="portcullis" \
      org.opencontainers.image.description="Identity-aware reverse proxy and forward-auth service" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production \
    PORTCULLIS_HEALTHCHECK_URL=http://127.0.0.1:8080/.portcullis/healthz
# A fixed non-root uid/gid (10001) that Kubernetes securityContexts can name. The only writable
# path is /var/lib/portcullis (generated signing keys, the SQLite directory): ./data, the default
# storage.dataDir, points there, so the root filesystem can be mounted read-only.
RUN groupadd --system --gid 10001 portcullis \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin portcullis \
    && mkdir -p /var/lib/portcullis /etc/portcullis \
    && chown 10001:10001 /var/lib/portcullis \
    && chmod 0750 /var/lib/portcullis
WORKDIR /app
RUN ln -s /var/lib/portcullis /app/data
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# package.json carries "type": "module", which dist/ needs.
COPY package.json ./
USER 10001:10001
VOLUME ["/var/lib/portcullis"]
EXPOSE 8080
# Liveness through node itself (the slim image has no curl). Override PORTCULLIS_HEALTHCHECK_URL
# when server.listen or server.prefix differ from the defaults.
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
    CMD ["node", "-e", "require('node:http').get(process.env.PORTCULLIS_HEALTHCHECK_URL, { timeout: 4000 }, (res) => process.exit(res.statusCode === 200 ? 0 : 1)).on('timeout', () => process.exit(1)).on('error', () => process.exit(1))"]
# node is PID 1 and receives SIGTERM itself (npm start would not forward it): it stops accepting,
# drains in-flight requests for server.shutdownGraceSeconds, then exits 0.
ENTRYPOINT ["node", "dist/src/main.js"]
CMD ["--config", "/etc/portcullis/config.yaml"]
