# syntax=docker/dockerfile:1
# Build stage: wheels for the app and its dependencies.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml setup.cfg README.md ./
COPY server ./server
COPY handlers ./handlers
COPY ws ./ws
COPY bench ./bench
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# Runtime stage: no compiler, a non-root user.
FROM python:3.11-slim-bookworm
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    CHATTER_HTTP__HOST=0.0.0.0 CHATTER_MEDIA__DIR=/data/media CHATTER_MAIL__OUTBOX_DIR=/data/outbox
RUN useradd --create-home --uid 10001 chatter \
 && mkdir -p /data /app/var && chown chatter:chatter /data /app/var
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
# The code runs from /app (not from the installed wheel): config.yaml and sql/ are found beside
# the server package, and `python -m server` in WORKDIR imports /app/server first.
COPY config.yaml ./
COPY sql ./sql
COPY server ./server
COPY handlers ./handlers
COPY ws ./ws
COPY web ./web
USER 10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"]
CMD ["python", "-m", "server", "--no-local-services", "run"]
