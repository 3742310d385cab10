# radflag: one image for every part (listener, workers, web); see docker-compose.yml.
#
# Single container, the whole service (embedded Redis, listener, workers, page):
#   docker run -p 2575:2575 -p 8080:8080 -v radflag-data:/data \
#     -e RADFLAG_HTTP_USER=ops -e RADFLAG_HTTP_PASSWORD=... radflag
# The page binds 0.0.0.0 here so that the published port reaches it, which
# needs the page's credentials: without them `radflag run` stops at once,
# saying so.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY hl7 hl7
COPY nlp nlp
COPY browse browse
COPY fhir_out fhir_out
COPY worker worker
COPY accounts accounts
COPY feedback feedback
COPY followup followup
COPY resilience resilience
COPY backfill backfill
RUN pip install . \
    && useradd --create-home --uid 10001 radflag \
    && mkdir -p /data \
    && chown radflag /data

USER radflag
ENV RADFLAG_DATA_DIR=/data \
    RADFLAG_MLLP_HOST=0.0.0.0 \
    RADFLAG_HTTP_HOST=0.0.0.0
VOLUME ["/data"]
EXPOSE 2575 8080
# Healthy while Redis answers and a worker answers a ping (exit 0); compose
# gives the web service a /healthz check instead.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["radflag", "status"]
# Without --redis-url this starts the embedded Redis too: the whole service in one container.
CMD ["radflag", "run"]
