# ollamalib as a drop-in `ollama` image (KubeAI's Ollama engine, a plain Deployment, a replica behind a router).
# Not built or run in ollamalib's CI (no container engine there): see docs/deploy.md for what was tested.
#
#   docker build -t ollamalib .                       # compiles llama-cpp-python (~10 min) unless a wheel
#   docker run -p 8000:8000 -v models:/models ollamalib   # of it sits in ./wheels/ (then it is used as is)

FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake git \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN mkdir -p wheels && pip wheel --wheel-dir /wheels --find-links wheels '.[server]'

FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /tmp/wheels
RUN pip install --no-cache-dir --no-index --find-links /tmp/wheels 'ollamalib[server]' && rm -rf /tmp/wheels \
    && ln -s "$(command -v ollamalib)" /bin/ollama \
    && useradd --create-home --uid 1000 ollama && mkdir -p /models && chown ollama:ollama /models
USER ollama
# KubeAI sets the first two itself; they are the defaults here so `docker run` behaves the same.
ENV OLLAMA_HOST=0.0.0.0:8000 \
    OLLAMA_MODELS=/models \
    OLLAMALIB_DATA_DIR=/home/ollama/.ollamalib \
    OLLAMALIB_DRAIN_TIMEOUT=25s
EXPOSE 8000
VOLUME ["/models"]
ENTRYPOINT ["/bin/ollama"]
CMD ["serve"]
