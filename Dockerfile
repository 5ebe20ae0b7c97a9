# syntax=docker/dockerfile:1
# One image per service, all from this file at the repo root (they share the workspace packages):
#   docker build --target api -t conveyor/api:0.1.0 .
# Targets: gateway, api, bridge, worker, scheduler, and tools (migrations + provisioning).
ARG NODE_IMAGE=node:24.22.3-bookworm-slim

FROM ${NODE_IMAGE} AS base
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false

# Only the manifests first, so the dependency layers are reused until the lockfile changes.
FROM base AS manifests
COPY package.json package-lock.json ./
COPY packages/platform/package.json packages/platform/
COPY packages/jobs/package.json packages/jobs/
COPY packages/worker-sdk/package.json packages/worker-sdk/
COPY services/gateway/package.json services/gateway/
COPY services/api/package.json services/api/
COPY services/bridge/package.json services/bridge/
COPY services/worker/package.json services/worker/
COPY services/scheduler/package.json services/scheduler/
COPY console/package.json console/

FROM manifests AS build
RUN --mount=type=cache,target=/root/.npm npm ci
COPY tsconfig.base.json tsconfig.json ./
COPY packages/ packages/
COPY services/ services/
COPY console/ console/
RUN npx tsc -b && npm run build --workspace @conveyor/console

FROM manifests AS prod-deps
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev

# Shared runtime: production dependencies, compiled output, tini as PID 1 so SIGTERM reaches Node
# (which drains) and zombies are reaped. Nothing is written outside /tmp, so the chart can mount
# the root filesystem read-only with an emptyDir on /tmp.
FROM base AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 conveyor \
 && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin conveyor
COPY --from=prod-deps /app/ ./
COPY --from=build /app/packages/platform/dist packages/platform/dist
COPY --from=build /app/packages/jobs/dist packages/jobs/dist
COPY --from=build /app/packages/worker-sdk/dist packages/worker-sdk/dist
COPY packages/jobs/migrations packages/jobs/migrations
ENV NODE_ENV=production HOME=/tmp
USER 10001:10001
ENTRYPOINT ["/usr/bin/tini", "--"]

# Each service: its compiled code and the same start command scripts/services.sh uses.
FROM runtime AS gateway
COPY --from=build /app/services/gateway/dist services/gateway/dist
# The console's static files, which the gateway serves at /console.
COPY --from=build /app/console/dist console/dist
ENV PORT=8080 OTEL_SERVICE_NAME=gateway
EXPOSE 8080
CMD ["node", "--enable-source-maps", "--import", "@conveyor/platform/telemetry", "services/gateway/dist/main.js"]

FROM runtime AS api
COPY --from=build /app/services/api/dist services/api/dist
ENV PORT=8081 OTEL_SERVICE_NAME=api
EXPOSE 8081
CMD ["node", "--enable-source-maps", "--import", "@conveyor/platform/telemetry", "services/api/dist/main.js"]

FROM runtime AS bridge
COPY --from=build /app/services/bridge/dist services/bridge/dist
ENV PORT=8082 OTEL_SERVICE_NAME=bridge
EXPOSE 8082
CMD ["node", "--enable-source-maps", "--import", "@conveyor/platform/telemetry", "services/bridge/dist/main.js"]

FROM runtime AS worker
COPY --from=build /app/services/worker/dist services/worker/dist
ENV PORT=8083 OTEL_SERVICE_NAME=worker
EXPOSE 8083
CMD ["node", "--enable-source-maps", "--import", "@conveyor/platform/telemetry", "services/worker/dist/main.js"]

FROM runtime AS scheduler
COPY --from=build /app/services/scheduler/dist services/scheduler/dist
ENV PORT=8084 OTEL_SERVICE_NAME=scheduler
EXPOSE 8084
CMD ["node", "--enable-source-maps", "--import", "@conveyor/platform/telemetry", "services/scheduler/dist/main.js"]

# Migrations by default; the chart's provisioning Job runs packages/jobs/dist/provision-cli.js.
FROM runtime AS tools
CMD ["node", "--enable-source-maps", "packages/jobs/dist/migrate-cli.js"]
