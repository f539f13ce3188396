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


def test_prompt_cache_hits_and_misses(server_factory):
    """A long prompt whose one slot was taken comes back from the host-RAM prompt cache: one token evaluated."""
    srv = server_factory(num_parallel=1, cache_ram_mib=16)

    def generate(prompt: str) -> dict:
        r = httpx.post(srv.url + "/api/generate", json={"model": "tiny", "prompt": prompt, "raw": True, "stream": False,
                                                        "options": {"num_predict": 4, "temperature": 0}}, timeout=120)
        assert r.status_code == 200, r.text
        return r.json()

    weather = "you are a tool that tells the weather of the city " * 10
    first = generate(weather)
    assert first["prompt_eval_count"] > 96 and "prompt_cached_count" not in first
    generate("water fire air earth and the elements of the world " * 10)  # takes the slot: the first is saved
    again = generate(weather)
    assert again["prompt_eval_count"] == 1 and again["response"] == first["response"]
    assert again["prompt_cached_count"] == first["prompt_eval_count"] - 1  # the reused prefix is reported
    fams = families(httpx.get(srv.url + "/metrics").text)

    def value(family: str) -> float:
        return next(s.value for s in fams[family].samples if s.labels["model"] == "tiny:latest")

    assert value("ollamalib_prompt_cache_hits") == 1
    assert value("ollamalib_prompt_cache_misses") == 2
    assert value("ollamalib_prompt_cache_tokens") == first["prompt_eval_count"]
    assert value("ollamalib_prompt_cache_bytes") > 0


def test_prompt_cache_disk_loads(server_factory, tmp_path):
    """With OLLAMALIB_CACHE_DIR, a model unloaded and loaded again answers a long prompt from the file its last
    runner wrote, and /metrics counts the read."""
    srv = server_factory(num_parallel=1, cache_dir=tmp_path / "kv")

    def generate(prompt: str, **extra) -> dict:
        r = httpx.post(srv.url + "/api/generate", json={"model": "tiny", "prompt": prompt, "raw": True, "stream": False,
                                                        "options": {"num_predict": 4, "temperature": 0}, **extra},
                       timeout=120)
        assert r.status_code == 200, r.text
        return r.json()

    weather = "you are a tool that tells the weather of the city " * 10
    first = generate(weather, keep_alive=0)  # unloaded after it: its slot is written to the cache directory
    assert first["prompt_eval_count"] > 96 and list((tmp_path / "kv").glob("*.kv"))
    again = generate(weather)  # a new runner
    assert again["prompt_eval_count"] == 1 and again["response"] == first["response"]
    fams = families(httpx.get(srv.url + "/metrics").text)
    loads = next(s.value for s in fams["ollamalib_prompt_cache_disk_loads"].samples if s.labels["model"] == "tiny:latest")
    assert loads == 1
