# kube-grpc-router: build with the full toolchain, run on a small non-root image.
#   docker build -t kube-grpc-router:0.1.0 .
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY grammar ./grammar
COPY src ./src
COPY examples ./examples
RUN node scripts/build.mjs && npm prune --omit=dev --no-audit --no-fund

# Distroless: node and nothing else (no shell, no package manager); runs as uid 65532.
FROM gcr.io/distroless/nodejs24-debian12:nonroot
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/examples ./dist/examples
# Read from the source tree at run time: the echo .proto and the embedded local config.
COPY --from=build /app/examples/echo/echo.proto ./examples/echo/echo.proto
COPY --from=build /app/examples/local.yaml ./examples/local.yaml
USER 65532:65532
EXPOSE 4140 4150 9990
# The image's entrypoint is node; the DaemonSet passes node's flags, the script and its flags as args.
# A 2 MB young generation (Node's default grows to 16 MB) keeps RSS and GC pauses small, and GC on
# the router's own thread spares the helper threads' handoffs on its one core; without Maglev (Node
# 24's mid tier) its compiler threads' memory stays out of RSS (bench/README.md, "V8 flags").
CMD ["--max-semi-space-size=2", "--single-threaded-gc", "--no-maglev", "--heap-growing-percent=50", "dist/src/cli.js", "--config", "/etc/kube-grpc-router/config.yaml"]
