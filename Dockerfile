# greenlight: the nightly miner (ENTRYPOINT) and the tester, in one small image.
#
#   docker build -t greenlight .                                   # the image (amd64 or, with
#   docker buildx build --platform linux/arm64 -t greenlight .     #  buildx, arm64)
#   docker build --target lambda-bootstrap --output type=local,dest=dist .
#                                       # dist/bootstrap: the tester for the Lambda zip
#
# No Docker engine runs in CI: .ci/deploy-check lints this file (hadolint, checkov) and checks
# that the release binaries themselves start (`--help`). See docs/operations.md.
#checkov:skip=CKV_DOCKER_2:a scheduled batch task that exits when done; no server to health-check

ARG RUST_VERSION=1.95

# ---- build: both binaries, release profile, stripped -------------------------------------
FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
# Cargo.toml names the benches, so they are needed for the manifest; tests and examples are not.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bins \
    && mkdir -p /out \
    && cp target/release/greenlight-miner target/release/greenlight-tester /out/ \
    && strip /out/greenlight-miner /out/greenlight-tester \
    && /out/greenlight-miner --help > /dev/null \
    && /out/greenlight-tester --help > /dev/null

# ISA-L's libisal.so.2 (Debian's libisal2), which the miner loads at run time to inflate the
# logs (6-7% less CPU than without it; see the README, "Throughput of the miner"): copied into
# the runtime image's library folder for this architecture.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libisal2 \
    && rm -rf /var/lib/apt/lists/* \
    && arch="$(gcc -print-multiarch)" \
    && mkdir -p "/out/lib/$arch" \
    && cp -L "/usr/lib/$arch/libisal.so.2" "/out/lib/$arch/"

# ---- lambda-bootstrap: the tester named `bootstrap` (custom runtime provided.al2023) -------
FROM scratch AS lambda-bootstrap
COPY --from=build /out/greenlight-tester /bootstrap

# ---- runtime: glibc + CA certificates, no shell, non-root (distroless `nonroot`, 65532) ---
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=build /out/greenlight-miner /out/greenlight-tester /usr/local/bin/
COPY --from=build /out/lib/ /usr/lib/
# Defaults for a scheduled ECS task: one JSON object per log line on stderr (CloudWatch Logs
# via the awslogs driver), no progress lines, credentials from the task role (never the EC2
# instance metadata service). Everything else comes from GREENLIGHT_* variables set by the
# task definition (GREENLIGHT_LOGS, GREENLIGHT_STATE, GREENLIGHT_OUT, GREENLIGHT_REPORT, ...).
ENV GREENLIGHT_LOG_FORMAT=json \
    GREENLIGHT_LOG=info \
    GREENLIGHT_QUIET=1 \
    AWS_EC2_METADATA_DISABLED=true
USER 65532:65532
WORKDIR /home/nonroot
# Exit codes (alarm on any non-zero): 0 list written; 1 an output or the state could not be
# written; 2 bad settings or an S3 access/configuration problem; 3 nothing to mine; 4 too many
# corrupt objects or lines.
ENTRYPOINT ["/usr/local/bin/greenlight-miner"]
