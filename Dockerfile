# syntax=docker/dockerfile:1.7
# FlowSense image: the API (`flowsense serve`), the Bytewax workers
# (`python -m bytewax.run dataflows.live:flow`) and the archiver (`flowsense archive`).
#   docker build -t flowsense:0.1.0 .                       # serve + dataflows (ofi predictor)
#   docker build --build-arg EXTRAS="serve models" -t flowsense:0.1.0-models .   # + torch, mlflow
# Dependencies come from uv.lock (`uv sync --frozen`): the image has exactly the locked set.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: a virtual environment with the locked dependencies and the project ----
FROM ${PYTHON_IMAGE} AS build
ARG EXTRAS="serve"
ARG UV_VERSION=0.5.31
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/flowsense/venv PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /src
# Dependencies first (a layer that changes only with the lock), then the project itself.
COPY pyproject.toml uv.lock README.md ./
RUN set -eu; extras=""; for e in $EXTRAS; do extras="$extras --extra $e"; done; \
    uv sync --frozen --no-install-project --no-editable $extras
COPY schemas ./schemas
COPY operators ./operators
COPY dataflows ./dataflows
COPY serving ./serving
COPY flowsense ./flowsense
RUN set -eu; extras=""; for e in $EXTRAS; do extras="$extras --extra $e"; done; \
    uv sync --frozen --no-editable $extras

# ---- runtime: the environment only, run as an unprivileged user ----
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 flowsense \
 && useradd --system --uid 10001 --gid flowsense --home-dir /var/lib/flowsense \
      --create-home --shell /usr/sbin/nologin flowsense
COPY --from=build /opt/flowsense/venv /opt/flowsense/venv
ENV PATH=/opt/flowsense/venv/bin:$PATH PYTHONUNBUFFERED=1 \
    FLOWSENSE_RUNTIME_DIR=/var/lib/flowsense/runtime \
    FLOWSENSE_RUNS_DIR=/var/lib/flowsense/runs \
    FLOWSENSE_CACHE_DIR= \
    NUMBA_CACHE_DIR=/tmp/numba
WORKDIR /var/lib/flowsense
USER 10001:10001
EXPOSE 8000 2101 3030
ENTRYPOINT ["flowsense"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
