# syntax=docker/dockerfile:1
# fraudwatch: one static binary (run, ingest, demo, score, produce, probe)
# on a distroless base, as an unprivileged user.

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/fraudwatch ./cmd/fraudwatch

# No shell, no package manager; rules, lexicons and fixtures are embedded.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/fraudwatch /usr/local/bin/fraudwatch
USER nonroot:nonroot
# 8080: run's /healthz /readyz /metrics. 8081: ingest's /webhook /healthz /metrics.
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/fraudwatch"]
CMD ["run"]
