# radflag: one image for every part (listener, workers, web); see docker-compose.yml.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY hl7 hl7
COPY nlp nlp
COPY worker worker
COPY accounts accounts
COPY feedback feedback
COPY fhir_out fhir_out
COPY followup followup
RUN pip install . \
    && useradd --create-home --uid 10001 radflag \
    && mkdir -p /data \
    && chown radflag /data

USER radflag
ENV RADFLAG_DATA_DIR=/data \
    RADFLAG_MLLP_HOST=0.0.0.0
VOLUME ["/data"]
EXPOSE 2575 8080
# Without --redis-url this starts the embedded Redis too: the whole service in one container.
CMD ["radflag", "run"]
