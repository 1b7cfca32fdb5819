# orchestratord. Build from the repository root:
#   docker build -f deploy/docker/orchestratord.Dockerfile -t llama-orch/orchestratord:0.1.0 .
FROM node:20-slim AS build
WORKDIR /src
COPY . .
RUN npx --yes pnpm@10.34.8 install --frozen-lockfile \
 && npx --yes pnpm@10.34.8 build \
 && npx --yes pnpm@10.34.8 --filter @llama-orch/orchestratord deploy --prod --legacy /out

FROM node:20-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out /app
ENV NODE_ENV=production
# the image's unprivileged user (uid 1000); the manifests run as it too
USER node
EXPOSE 8080
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/orchestratord.js"]
CMD ["--config", "/etc/llama-orch/orchestratord.yaml"]
