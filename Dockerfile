# Production image: slim Python, catalogs compiled at build time, runs as a non-root user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UNIBOT_WEB__HOST=0.0.0.0 \
    MPLCONFIGDIR=/app/data/.matplotlib

WORKDIR /app
COPY pyproject.toml ./
COPY bot ./bot
COPY core ./core
COPY storage ./storage
COPY webserver ./webserver
COPY fake_telegram ./fake_telegram
COPY mtproto ./mtproto
COPY locales ./locales
COPY run.py settings.toml ./

RUN pip install ".[postgres]" \
    && pybabel compile -d locales -D messages \
    && useradd --system --uid 10001 --home-dir /app unibot \
    && mkdir -p /app/data \
    && chown -R unibot /app/data

USER unibot
EXPOSE 8080
# The port the app listens on: web.port as UNIBOT_WEB__PORT sets it, else the shipped settings' 8080.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, sys, urllib.request; port = os.environ.get('UNIBOT_WEB__PORT') or '8080'; sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/health', timeout=4).status == 200 else 1)"
CMD ["python", "run.py"]
