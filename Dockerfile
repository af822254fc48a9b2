# labelloop web and worker image. Build: docker build -t labelloop:0.1.0 . (or docker compose build)
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    LABELLOOP_DATA_DIR=/data

RUN pip install --no-cache-dir uv==0.13.8 \
    && useradd --create-home --uid 1000 labelloop \
    && mkdir -m 700 /data && chown labelloop /data

WORKDIR /srv/labelloop
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY alembic.ini ./
COPY app ./app
COPY migrations ./migrations
RUN uv sync --frozen --no-dev

USER 1000
VOLUME ["/data"]
EXPOSE 8000
CMD ["labelloop", "serve", "--host", "0.0.0.0", "--port", "8000"]
