# Backoffice operator console: gunicorn on port 3000, non-root.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=3000

WORKDIR /app

# Dependencies first, in their own cached layer: only pyproject.toml and constraints.txt
# invalidate it. constraints.txt pins every package to the version the tests ran with.
COPY pyproject.toml constraints.txt ./
RUN python - <<'PY' > /tmp/requirements.txt && pip install -r /tmp/requirements.txt -c constraints.txt
import tomllib
print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))
PY

# The console only: no tests, benchmarks or testing_support (see also .dockerignore).
COPY backoffice ./backoffice
COPY console ./console
COPY queues ./queues
COPY models ./models
COPY views ./views
COPY audit_hooks ./audit_hooks
COPY wsgi.py README.md ./
RUN pip install --no-deps . \
    && useradd --create-home --uid 10001 backoffice \
    && mkdir -p /app/instance && chown backoffice:backoffice /app/instance

USER backoffice
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=2)"
# Threads, timeouts and trusted forwarding live in console/gunicorn_conf.py (docs/serving.md).
CMD ["sh", "-c", "exec gunicorn -c python:console.gunicorn_conf --bind 0.0.0.0:${PORT} --workers 2 --no-control-socket --access-logfile - wsgi:app"]
