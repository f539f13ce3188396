"""GET /metrics: Prometheus text that a real parser accepts, with the engine's counters and request latencies."""

import httpx
import prometheus_client.parser as prometheus


def families(text: str) -> dict:
    return {f.name: f for f in prometheus.text_string_to_metric_families(text)}


def test_metrics_parse_and_count_tokens_loads_and_requests(live):
    before = httpx.get(live.url + "/metrics")
    assert before.status_code == 200
    assert before.headers["content-type"].startswith("text/plain; version=0.0.4")
    r = httpx.post(live.url + "/api/generate", json={"model": "hello", "prompt": "hi", "stream": False,
                                                     "options": {"num_predict": 4}}, timeout=60)
    assert r.status_code == 200
    body = r.json()
    text = httpx.get(live.url + "/metrics").text
    fams = families(text)
    # prometheus_client drops the _total suffix of counter families
    prompt = {s.labels["model"]: s.value for s in fams["llamacpp:prompt_tokens"].samples if s.name.endswith("_total")}
    predicted = {s.labels["model"]: s.value for s in fams["llamacpp:tokens_predicted"].samples if s.name.endswith("_total")}
    assert prompt["hello:latest"] >= body["prompt_eval_count"]
    assert predicted["hello:latest"] >= body["eval_count"] >= 1
    loads = {s.labels["model"]: s.value for s in fams["ollamalib_model_loads"].samples if s.name.endswith("_total")}
    assert loads["hello:latest"] >= 1
    slots = {s.labels["model"]: s.value for s in fams["ollamalib_slots_total"].samples}
    assert slots["hello:latest"] >= 1
    assert "llamacpp:kv_cache_usage_ratio" in fams and "llamacpp:requests_deferred" in fams
    hist = fams["ollamalib_request_duration_seconds"]
    routes = {(s.labels["route"], s.labels["status"]) for s in hist.samples if s.name.endswith("_count")}
    assert ("/api/generate", "200") in routes


def test_unknown_paths_do_not_become_labels(live):
    httpx.get(live.url + "/no/such/path/12345")
    text = httpx.get(live.url + "/metrics").text
    assert "/no/such/path" not in text
    hist = families(text)["ollamalib_request_duration_seconds"]
    assert any(s.labels["route"] == "other" and s.labels["status"] == "404" for s in hist.samples)
