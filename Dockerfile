# idsync container image (issue #14): the Debian package built in a Debian 12 stage, installed
# into debian:12-slim, run as the package's idsync user with the data in a volume.
#
#   docker build --build-arg IDSYNC_COMMIT=$(git rev-parse --short=12 HEAD) -t idsync .
#   docker run -d --name idsync -p 8080:8080 -v idsync-data:/var/lib/idsync idsync
#   docker exec idsync idsync connection add okta --data /var/lib/idsync
#
# The image's contents are the .deb that tests/e2e/test_package.py builds and inspects.

FROM debian:12 AS build
ARG IDSYNC_COMMIT=unknown
WORKDIR /src
COPY tools/install-deps.sh tools/
RUN tools/install-deps.sh build
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIDSYNC_BUILD_TESTS=OFF \
      -DIDSYNC_COMMIT=${IDSYNC_COMMIT} \
 && cmake --build build -j"$(nproc)" \
 && cd build && cpack -G DEB && mv idsync_*_amd64.deb /idsync.deb

FROM debian:12-slim
# curl only for the HEALTHCHECK; the package's dependencies come from Debian.
COPY --from=build /idsync.deb /tmp/idsync.deb
RUN apt-get update \
 && apt-get install -y --no-install-recommends /tmp/idsync.deb curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* /tmp/idsync.deb
# postinst created the idsync system user and /var/lib/idsync (mode 0700).
USER idsync
VOLUME /var/lib/idsync
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD curl -fsS -o /dev/null http://127.0.0.1:8080/healthz || exit 1
# The package's /etc/idsync/idsync.toml (data = "/var/lib/idsync"), listening on all
# interfaces; any setting can be changed with -e IDSYNC_<KEY> (idsync config reference).
ENV IDSYNC_LISTEN=0.0.0.0:8080
ENTRYPOINT ["/usr/bin/idsync"]
CMD ["serve", "--config", "/etc/idsync/idsync.toml"]
