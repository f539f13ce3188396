"""``GET /metrics``: Prometheus text exposition of the engine's counters and the server's request latencies.

Per-model token and slot figures use llama-server's ``llamacpp:*`` names where they fit (labelled with the
model), so existing dashboards work; load counts and request latencies are ollamalib's own. Routers read the
unlabelled server totals: ``ollamalib_requests_waiting``, ``ollamalib_requests_running`` and
``ollamalib_kv_cache_usage_ratio`` have the types and meanings of the model-server protocol's TotalQueuedRequests,
TotalRunningRequests and KVCacheUtilization (gateway-api-inference-extension; docs/deploy.md maps them), and
``ollamalib_lora_requests_info`` has the labels of vLLM's ``vllm:lora_requests_info``.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from typing import Any

from litestar import Response, get
from litestar.handlers import HTTPRouteHandler

__all__ = ["CONTENT_TYPE", "RequestMetrics", "metrics_route", "render_metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

# Route templates, so a label never holds a user-supplied path (unknown paths count as "other").
_ROUTES = [
    (re.compile(r"^/api/blobs/[^/]+$"), "/api/blobs/{digest}"),
    (re.compile(r"^/v1/models/.+$"), "/v1/models/{model}"),
]
_KNOWN = {
    "/", "/metrics", "/api/version", "/api/generate", "/api/chat", "/api/embed", "/api/embeddings", "/api/create",
    "/api/tags", "/api/show", "/api/copy", "/api/delete", "/api/pull", "/api/push", "/api/ps",
    "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/models", "/api/ready",
}


def route_label(path: str) -> str:
    if path in _KNOWN:
        return path
    for pattern, label in _ROUTES:
        if pattern.match(path):
            return label
    return "other"


class RequestMetrics:
    """A thread-safe latency histogram per (method, route, status), fed by the request-logging middleware."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str, str], list[float]] = {}  # bucket counts..., count, sum

    def observe(self, method: str, path: str, status: int, seconds: float) -> None:
        key = (method, route_label(path), str(status))
        with self._lock:
            row = self._series.get(key)
            if row is None:
                row = self._series[key] = [0.0] * (len(BUCKETS) + 2)
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    row[i] += 1
            row[-2] += 1
            row[-1] += seconds

    def lines(self) -> Iterable[str]:
        name = "ollamalib_request_duration_seconds"
        yield f"# HELP {name} HTTP request latency (to the last byte of the response)."
        yield f"# TYPE {name} histogram"
        with self._lock:
            series = sorted((k, list(v)) for k, v in self._series.items())
        for (method, route, status), row in series:
            labels = f'method="{method}",route="{_escape(route)}",status="{status}"'
            for bound, count in zip(BUCKETS, row):
                yield f'{name}_bucket{{{labels},le="{bound}"}} {count:g}'
            yield f'{name}_bucket{{{labels},le="+Inf"}} {row[-2]:g}'
            yield f"{name}_count{{{labels}}} {row[-2]:g}"
            yield f"{name}_sum{{{labels}}} {row[-1]:.6f}"


# (metric name, type, help, function of ModelMetrics)
_MODEL_METRICS: list[tuple[str, str, str, Any]] = [
    ("llamacpp:prompt_tokens_total", "counter", "Number of prompt tokens processed.", lambda m: m.prompt_tokens_total),
    ("llamacpp:prompt_seconds_total", "counter", "Prompt process time.", lambda m: m.prompt_seconds_total),
    ("llamacpp:tokens_predicted_total", "counter", "Number of generation tokens processed.",
     lambda m: m.tokens_predicted_total),
    ("llamacpp:tokens_predicted_seconds_total", "counter", "Predict process time.",
     lambda m: m.tokens_predicted_seconds_total),
    ("llamacpp:n_decode_total", "counter", "Total number of llama_decode() calls.", lambda m: m.decode_calls_total),
    ("ollamalib_draft_tokens_total", "counter", "Speculative decoding: drafted tokens verified.",
     lambda m: m.draft_tokens_total),
    ("ollamalib_draft_accepted_tokens_total", "counter", "Speculative decoding: drafted tokens accepted.",
     lambda m: m.draft_accepted_total),
    ("ollamalib_draft_acceptance_ratio", "gauge", "Speculative decoding: accepted over drafted tokens (0 to 1).",
     lambda m: m.draft_accepted_total / m.draft_tokens_total if m.draft_tokens_total else 0.0),
    ("llamacpp:prompt_tokens_seconds", "gauge", "Average prompt throughput in tokens/s.",
     lambda m: m.prompt_tokens_total / m.prompt_seconds_total if m.prompt_seconds_total else 0.0),
    ("llamacpp:predicted_tokens_seconds", "gauge", "Average generation throughput in tokens/s.",
     lambda m: m.tokens_predicted_total / m.tokens_predicted_seconds_total if m.tokens_predicted_seconds_total else 0.0),
    ("llamacpp:n_busy_slots_per_decode", "gauge", "Average number of busy slots per llama_decode() call.",
     lambda m: m.busy_slots_per_decode),
    ("llamacpp:kv_cache_usage_ratio", "gauge", "KV-cache usage. 1 means 100 percent usage.",
     lambda m: m.kv_cells_used / m.kv_cells_total if m.kv_cells_total else 0.0),
    ("llamacpp:kv_cache_tokens", "gauge", "KV-cache tokens.", lambda m: m.kv_cells_used),
    ("llamacpp:requests_processing", "gauge", "Number of requests processing.", lambda m: m.slots_in_use),
    ("llamacpp:requests_deferred", "gauge", "Number of requests deferred.", lambda m: m.queued),
    ("ollamalib_slots_total", "gauge", "Sequence slots of the loaded runners.", lambda m: m.slots_total),
    ("ollamalib_model_loaded", "gauge", "Runners of this model loaded now.", lambda m: m.loaded),
    ("ollamalib_model_loads_total", "counter", "Times the model was loaded.", lambda m: m.loads_total),
    ("ollamalib_model_load_seconds_total", "counter", "Time spent loading the model.", lambda m: m.load_seconds_total),
    ("ollamalib_requests_total", "counter", "Completion requests the model's runners accepted.",
     lambda m: m.requests_total),
    ("ollamalib_prompt_cache_hits_total", "counter",
     "Requests whose prompt prefix was restored from the host-RAM prompt cache.", lambda m: m.prompt_cache_hits),
    ("ollamalib_prompt_cache_misses_total", "counter",
     "Requests with an uncached prompt prefix the host-RAM prompt cache did not hold.", lambda m: m.prompt_cache_misses),
    ("ollamalib_prompt_cache_tokens_total", "counter", "Prompt tokens restored from the host-RAM prompt cache.",
     lambda m: m.prompt_cache_tokens),
    ("ollamalib_prompt_cache_disk_loads_total", "counter",
     "Prompt states read back from the prompt cache's files (OLLAMALIB_CACHE_DIR).",
     lambda m: m.prompt_cache_disk_loads),
    ("ollamalib_prompt_cache_bytes", "gauge", "Bytes of KV state the host-RAM prompt cache holds now.",
     lambda m: m.prompt_cache_bytes),
    ("ollamalib_model_adapters", "gauge", "LoRA adapters applied to the model's loaded runners.",
     lambda m: m.adapters),
]


def _server_lines(models: list[Any], drain: Any, max_adapters: int) -> list[str]:
    """Totals over all models (what an endpoint picker reads per replica) and the drain state."""
    kv_total = sum(m.kv_cells_total for m in models)
    rows: list[tuple[str, str, float]] = [
        ("ollamalib_requests_waiting", "Requests waiting for a sequence slot, all models.", sum(m.queued for m in models)),
        ("ollamalib_requests_running", "Requests holding a sequence slot, all models.",
         sum(m.slots_in_use for m in models)),
        ("ollamalib_kv_cache_usage_ratio", "KV-cache cells in use over all loaded runners (0 to 1).",
         sum(m.kv_cells_used for m in models) / kv_total if kv_total else 0.0),
    ]
    if drain is not None:
        rows.append(("ollamalib_http_requests_in_flight", "HTTP requests being served.", drain.in_flight))
        rows.append(("ollamalib_draining", "1 while the server drains before exiting.", int(drain.draining)))
    lines: list[str] = []
    for name, help_text, value in rows:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {_number(value)}"]
    running = ",".join(m.name for m in models if m.loaded and m.adapters)
    name = "ollamalib_lora_requests_info"
    lines += [f"# HELP {name} Models with LoRA adapters loaded now (labels as vLLM's vllm:lora_requests_info).",
              f"# TYPE {name} gauge",
              f'{name}{{max_lora="{max_adapters}",running_lora_adapters="{_escape(running)}",'
              f'waiting_lora_adapters=""}} {_number(float(int(time.time())))}']
    return lines


def render_metrics(models: Iterable[Any], requests: RequestMetrics | None = None, drain: Any = None,
                   max_adapters: int = 0) -> str:
    """The exposition text: server totals, the engine's per-model metrics and (optionally) request latencies."""
    models = list(models)
    lines = _server_lines(models, drain, max_adapters)
    for name, kind, help_text, value in _MODEL_METRICS:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for m in models:
            lines.append(f'{name}{{model="{_escape(m.name)}"}} {_number(value(m))}')
    if requests is not None:
        lines.extend(requests.lines())
    return "\n".join(lines) + "\n"


def metrics_route(engine: Any, requests: RequestMetrics, drain: Any = None) -> HTTPRouteHandler:
    settings = getattr(engine, "settings", None)
    max_adapters = getattr(settings, "max_loaded_models", 0)

    @get("/metrics", summary="Prometheus metrics", media_type=CONTENT_TYPE)
    async def metrics() -> Response:
        text = render_metrics(engine.metrics(), requests, drain, max_adapters)
        return Response(text.encode(), media_type=CONTENT_TYPE)

    return metrics


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.6g}"
