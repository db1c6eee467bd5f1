# syntax=docker/dockerfile:1
# One image for all five services. Pick the service with the command, e.g.
#   docker run k8sops k8sops_intake serve     (or: k8sops_audit migrate)
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --no-cache-dir uv
WORKDIR /app

# Third-party dependencies first: this layer is rebuilt only when the lock file or a manifest changes.
COPY pyproject.toml uv.lock ./
COPY libs/common/pyproject.toml libs/common/
COPY libs/platform/pyproject.toml libs/platform/
COPY libs/sandbox/pyproject.toml libs/sandbox/
COPY services/intake/pyproject.toml services/intake/
COPY services/sla-timer/pyproject.toml services/sla-timer/
COPY services/upgrade-runner/pyproject.toml services/upgrade-runner/
COPY services/cost-analyzer/pyproject.toml services/cost-analyzer/
COPY services/audit/pyproject.toml services/audit/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --all-packages --no-dev --no-install-workspace

# Then the workspace packages, installed as wheels (not editable) so the runtime stage needs only the venv.
COPY libs libs
COPY services services
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --all-packages --no-dev --no-editable

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 k8sops \
    && useradd --system --uid 10001 --gid k8sops --no-create-home --home-dir /nonexistent k8sops
COPY --from=build /app/.venv /app/.venv
ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    K8SOPS_HTTP_HOST=0.0.0.0
WORKDIR /app
# Numeric user so Kubernetes can verify runAsNonRoot.
USER 10001:10001
ENTRYPOINT ["python", "-m"]
CMD ["k8sops_intake", "serve"]
