# One image, both binaries: ferrosched-operator (the entrypoint) and ferrosched-scheduler
# (the command of the scheduler Deployments the operator writes).
#   docker build -t ferrosched:0.1.0 .          (BuildKit: DOCKER_BUILDKIT=1 or buildx)
# The bases are build arguments: by default the published rust and distroless images;
# hack/image.sh passes bases it assembles from Debian packages and this machine's Rust
# toolchain, with the crates vendored in, for machines that reach no registry.
# No `# syntax=` line: it would make BuildKit pull a frontend image; the engine's
# built-in Dockerfile frontend (Docker 20.10 included) already has RUN --mount.
# tests/tests/image.rs checks this file's shape.

ARG BUILDER_IMAGE=docker.io/library/rust:1.95-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${BUILDER_IMAGE} AS build
WORKDIR /src
COPY . .
# The target directory is a cache mount kept by the engine between builds, so only the
# workspace's own crates compile again when the sources change (Cargo.lock unchanged);
# the registry mount keeps downloaded crates with the upstream image (the local builder
# base reads vendored crates from elsewhere and never touches it).
# Debug info stripped (87 → 21 MB per binary); symbols stay for backtraces.
RUN --mount=type=cache,id=ferrosched-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=ferrosched-target,target=/src/target,sharing=locked \
    cargo build --release --locked --bin ferrosched-operator --bin ferrosched-scheduler \
    && mkdir -p /out \
    && cp target/release/ferrosched-operator target/release/ferrosched-scheduler /out/ \
    && strip --strip-debug /out/ferrosched-operator /out/ferrosched-scheduler

# Distroless: glibc and CA certificates, no shell, no package manager; "nonroot" is
# UID/GID 65532, the user the chart and the operator's scheduler pods run as. Nothing is
# written to the root file system (the chart mounts it read-only).
FROM ${RUNTIME_IMAGE}
COPY --from=build /out/ferrosched-operator /out/ferrosched-scheduler /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/ferrosched-operator"]
