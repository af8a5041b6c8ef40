# syntax=docker/dockerfile:1
# eipfsck's container image, for people with Docker:
#   docker build --build-arg VERSION=0.1.0 -t ghcr.io/eipfsck/eipfsck:0.1.0 .
# VERSION must be pyproject.toml's version: the build fails when `eipfsck --version` disagrees.
#
# The image this repository builds and tests is made without a Docker engine by
# `scripts/image build` (mmdebstrap + umoci). This file describes the same image: Debian
# bookworm's python3, a venv in /opt/eipfsck holding eipfsck and its dependencies from PyPI
# (no pip left in it), user 65532, entrypoint eipfsck, the same OCI labels
# (tests/live/test_image.py compares them).
ARG VERSION

FROM debian:bookworm-slim AS builder
ARG VERSION
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN python3 -m venv /opt/eipfsck \
    && /opt/eipfsck/bin/pip install --no-cache-dir --disable-pip-version-check . \
    && /opt/eipfsck/bin/pip uninstall --yes pip setuptools wheel \
    && test -n "$VERSION" \
    && test "$(/opt/eipfsck/bin/eipfsck --version)" = "eipfsck $VERSION"

FROM debian:bookworm-slim
ARG VERSION
LABEL org.opencontainers.image.title="eipfsck" \
      org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.source="https://github.com/eipfsck/eipfsck" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="debian:bookworm" \
      org.opencontainers.image.description="Audit and repair Kube-OVN IP address management"
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 \
    && rm -rf /var/lib/apt/lists/* /usr/share/doc /usr/share/man
COPY --from=builder /opt/eipfsck /opt/eipfsck
# The uid the manifests in deploy/ and the chart run as (runAsUser: 65532).
RUN ln -s /opt/eipfsck/bin/eipfsck /usr/local/bin/eipfsck \
    && ln -s /opt/eipfsck/bin/kubectl-eipfsck /usr/local/bin/kubectl-eipfsck \
    && echo 'eipfsck:x:65532:65532:eipfsck:/home/eipfsck:/usr/sbin/nologin' >>/etc/passwd \
    && echo 'eipfsck:x:65532:' >>/etc/group \
    && mkdir -p /home/eipfsck /var/lib/eipfsck \
    && chown 65532:65532 /home/eipfsck /var/lib/eipfsck
ENV PATH=/usr/local/bin:/usr/bin:/bin PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 65532:65532
WORKDIR /home/eipfsck
ENTRYPOINT ["eipfsck"]
CMD ["--help"]
