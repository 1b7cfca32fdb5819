# pool-managerd. Build from the repository root:
#   docker build -f deploy/docker/pool-managerd.Dockerfile -t llama-orch/pool-managerd:0.1.0 .
# The image holds the daemon only: add your engine (llama-server, vLLM, ...) in an image built
# FROM this one, at the path pool-managerd.yaml names (see docs/KUBERNETES.md).
FROM node:20-slim AS build
WORKDIR /src
COPY . .
RUN npx --yes pnpm@10.34.8 install --frozen-lockfile \
 && npx --yes pnpm@10.34.8 build \
 && npx --yes pnpm@10.34.8 --filter @llama-orch/pool-managerd deploy --prod --legacy /out

FROM node:20-slim
# tini as PID 1: forwards SIGTERM to the daemon (which drains) and reaps orphaned engine children
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out /app
ENV NODE_ENV=production
# the image's unprivileged user (uid 1000); the manifests run as it too
USER node
EXPOSE 9200
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/pool-managerd.js"]
CMD ["--config", "/etc/llama-orch/pool-managerd.yaml"]
