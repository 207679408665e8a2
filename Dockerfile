# walletpass from source: a static binary (pure-Go SQLite, the IANA time
# zone database built in) on an empty image, run as a non-root user.
#   docker build -t walletpass .
# Without access to an image registry, `make image` builds the same final
# image from a binary built on this machine (deploy/Dockerfile.prebuilt).
# The build context's .git, when git can read it (not a worktree's or a
# submodule's, which point outside the context), stamps the VCS revision
# (walletpass version, walletpass_build_info).
FROM golang:1.27.3-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN vcs=false; if git status --porcelain >/dev/null 2>&1; then vcs=true; fi \
 && CGO_ENABLED=0 go build -trimpath -buildvcs=$vcs -tags timetzdata -ldflags "-s -w" -o /out/walletpass ./cmd/walletpass \
 && mkdir -p /out/data /out/etc/ssl/certs \
 && cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/

FROM scratch
# CA certificates: APNs (USERTrust RSA since 2025), Google, SecuTix and S3
# are verified against them.
COPY --from=build /out/etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/walletpass /walletpass
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
WORKDIR /data
ENV WALLETPASS_DATA_DIR=/data \
    WALLETPASS_LISTEN=0.0.0.0:8080 \
    WALLETPASS_ADMIN_LISTEN=0.0.0.0:9464
EXPOSE 8080 9464
VOLUME ["/data"]
ENTRYPOINT ["/walletpass"]
CMD ["serve"]
