# syntax=docker/dockerfile:1
# One image, both binaries: ferrosched-operator (the entrypoint) and ferrosched-scheduler
# (the command of the scheduler Deployments the operator writes).
#   docker build -t ferrosched:0.1.0 .
# The build stage runs the same `cargo build --release --locked` of both binaries as CI
# (hack/test.sh); tests/tests/image.rs checks this file's final stage.

ARG RUST_VERSION=1.95

FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
# Debug info stripped (87 → 21 MB per binary); symbols stay for backtraces.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin ferrosched-operator --bin ferrosched-scheduler \
    && mkdir -p /out \
    && cp target/release/ferrosched-operator target/release/ferrosched-scheduler /out/ \
    && strip --strip-debug /out/ferrosched-operator /out/ferrosched-scheduler

# Distroless: glibc and CA certificates, no shell, no package manager; "nonroot" is
# UID/GID 65532, the user the chart and the operator's scheduler pods run as.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/ferrosched-operator /out/ferrosched-scheduler /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/ferrosched-operator"]
