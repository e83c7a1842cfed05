# One image for every Plantbridge service; compose.yaml picks the service with `plantbridge serve NAME`.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY contracts ./contracts
COPY system_apis ./system_apis
COPY process_apis ./process_apis
COPY experience_apis ./experience_apis
COPY gateway ./gateway
COPY connectors ./connectors
COPY plantbridge ./plantbridge
# The `tryton` extra: the same image runs the optional Tryton server (compose profile `tryton`).
RUN pip install '.[tracing,tryton]' && useradd --system --uid 10001 plantbridge
USER plantbridge
# Migrations run at start (settings: <PREFIX>_MIGRATE_ON_START, on by default).
ENTRYPOINT ["plantbridge"]
