"""Behaviour under load and misuse: disconnects stop generation, a full queue answers 503, late errors."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from ollamalib.errors import RegistryError

LONG = {"num_predict": 100_000, "num_ctx": 2048, "temperature": 0}  # 10 x num_ctx tokens: ~20k, tens of seconds


def test_disconnect_stops_generation_and_frees_the_slot(server_factory):
    srv = server_factory(num_parallel=1, max_queue=1)
    url = srv.url + "/api/generate"
    body = {"model": "tiny", "prompt": "Hi", "options": LONG}
    with httpx.Client(timeout=60) as http:
        with http.stream("POST", url, json=body) as r:
            assert r.status_code == 200
            lines = r.iter_lines()
            for _ in range(5):
                assert not json.loads(next(lines))["done"]
        # the stream is closed: the only slot must come free for the next request within moments
        started = time.monotonic()
        quick = http.post(url, json={"model": "tiny", "prompt": "Hi", "stream": False,
                                     "options": {"num_predict": 2, "num_ctx": 2048}})
        assert quick.status_code == 200 and quick.json()["eval_count"] == 2
        assert time.monotonic() - started < 15


def test_queue_full_answers_503(server_factory):
    srv = server_factory(num_parallel=1, max_queue=1)
    url = srv.url + "/api/generate"
    holder = httpx.Client(timeout=120)
    stream = holder.stream("POST", url, json={"model": "tiny", "prompt": "Hi", "options": LONG})
    response = stream.__enter__()
    try:
        lines = response.iter_lines()
        next(lines)  # the slot is taken
        waiting: dict[str, int] = {}

        def wait_in_queue():
            r = httpx.post(url, json={"model": "tiny", "prompt": "Hi", "stream": False,
                                      "options": {"num_predict": 1, "num_ctx": 2048}}, timeout=120)
            waiting["status"] = r.status_code

        t = threading.Thread(target=wait_in_queue)
        t.start()
        time.sleep(1.0)  # the waiting request is queued behind the stream
        r = httpx.post(url, json={"model": "tiny", "prompt": "Hi", "options": {"num_ctx": 2048}}, timeout=30)
        assert (r.status_code, r.json()) == (
            503, {"error": "server busy, please try again.  maximum pending requests exceeded"})
        oa = httpx.post(srv.url + "/v1/chat/completions", timeout=30,
                        json={"model": "tiny", "messages": [{"role": "user", "content": "x"}]})
        assert oa.status_code == 503 and oa.json()["error"]["type"] == "api_error"
    finally:
        stream.__exit__(None, None, None)
        holder.close()
    t.join(60)
    assert waiting["status"] == 200


class FailingStream:
    """Wraps the real AsyncEngine; generate and chat requests stream real chunks, then fail after ``after``."""

    def __init__(self, engine, after=3):
        self._engine = engine
        self.after = after

    def __getattr__(self, name):
        return getattr(self._engine, name)

    async def send(self, request, *, stream=False):
        return self._failing(await self._engine.send(request, stream=stream), stream)

    def _failing(self, inner, stream):
        if not stream:
            return inner

        async def chunks():
            n = 0
            try:
                async for chunk in inner:
                    yield chunk
                    n += 1
                    if n == self.after:
                        raise RegistryError("runner process has terminated")
            finally:
                await inner.aclose()

        return chunks()


@pytest.fixture
def failing(server_factory):
    return server_factory(wrap=FailingStream)


def test_error_mid_stream_becomes_a_final_error_line(failing):
    body = {"model": "tiny", "prompt": "Hi", "options": {"num_predict": 50}}
    with httpx.stream("POST", failing.url + "/api/generate", json=body) as r:
        assert r.status_code == 200
        objs = [json.loads(line) for line in r.iter_lines() if line]
    assert len(objs) == 4 and objs[-1] == {"error": "runner process has terminated"}

    import ollama

    with pytest.raises(ollama.ResponseError, match="runner process has terminated"):
        list(ollama.Client(failing.url).generate("tiny", "Hi", stream=True, options={"num_predict": 50}))


def test_error_mid_sse_stream(failing):
    body = {"model": "tiny", "messages": [{"role": "user", "content": "Hi"}], "stream": True, "max_tokens": 50}
    import openai

    client = openai.OpenAI(base_url=failing.url + "/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.APIError, match="runner process has terminated"):
        list(client.chat.completions.create(**body))
    with httpx.stream("POST", failing.url + "/v1/chat/completions", json=body) as r:
        events = [e for e in r.read().decode().split("\n\n") if e]
    assert json.loads(events[-1][6:])["error"]["message"] == "runner process has terminated"
    assert "data: [DONE]" not in events


def test_concurrent_streams(live):
    results: dict[int, str] = {}

    def run(i):
        with httpx.stream("POST", live.url + "/api/generate", timeout=60,
                          json={"model": "hello", "prompt": f"Hi {i}"}) as r:
            results[i] = "".join(json.loads(line)["response"] for line in r.iter_lines() if line)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 6 and len(set(results.values())) == 1
