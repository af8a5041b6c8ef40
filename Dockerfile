# syntax=docker/dockerfile:1
# eipfsck's container image: docker build -t ghcr.io/eipfsck/eipfsck:0.1.0 .
# (Not built in this repository's CI: the development machines have no Docker engine.)
#
# Builder: a wheel of eipfsck and of each dependency, so that the final stage installs wheels
# only, with no network and no compiler. Both stages use the same pinned base so that the
# wheels fit the final interpreter.
FROM python:3.11.7-slim-bookworm AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --wheel-dir /wheels .

FROM python:3.11.7-slim-bookworm
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# The uid the manifests in deploy/ run as (runAsUser: 65532).
RUN groupadd --system --gid 65532 eipfsck \
    && useradd --system --uid 65532 --gid 65532 --home-dir /home/eipfsck --create-home \
       --shell /usr/sbin/nologin eipfsck
# The wheels are bind-mounted from the builder, not copied: they leave no layer behind.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels eipfsck
USER 65532:65532
WORKDIR /home/eipfsck
ENTRYPOINT ["eipfsck"]
CMD ["--help"]
