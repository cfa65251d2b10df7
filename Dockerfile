# One image for every arena process of the production stack (docker-compose.yml): the API, the
# match workers, the scheduler and the one-shot `arena db upgrade`. GNU Go is the reference engine
# and dead-stone referee; KataGo or Leela Zero binaries go in through ARENA_ENGINES_FILE and a volume.
FROM python:3.11-slim-bookworm

RUN apt-get update \
    && apt-get install -y --no-install-recommends gnugo \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY arena ./arena
COPY search_workers ./search_workers
COPY models ./models
COPY proto ./proto
# torch==2.13.0 from the CPU index (the workers' default evaluator; Triton does the GPU work).
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu . \
    && useradd --create-home --uid 1000 arena \
    && mkdir -p /data /checkpoints && chown arena /data /checkpoints

USER arena
ENV ARENA_DATA_DIR=/data \
    ARENA_CHECKPOINT_DIR=/checkpoints \
    PYTHONUNBUFFERED=1
EXPOSE 8000 9101
ENTRYPOINT ["arena"]
CMD ["--help"]
