"""The OpenAI-compatible API driven by the official ``openai`` client against a real server on tiny real models."""

from __future__ import annotations

import base64
import json
import struct

import httpx
import openai
import pytest

from srvutil import HELLO_SCRIPT, JSON_SCRIPT

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture
def client(live):
    with openai.OpenAI(base_url=live.url + "/v1", api_key="unused", max_retries=0) as c:
        yield c


def test_chat_completion(client):
    r = client.chat.completions.create(model="hello", messages=[{"role": "user", "content": "Hi"}])
    assert r.object == "chat.completion" and r.id.startswith("chatcmpl-")
    assert r.system_fingerprint == "fp_ollama" and r.model == "hello"
    choice = r.choices[0]
    assert choice.message.role == "assistant" and choice.message.content == HELLO_SCRIPT
    assert choice.finish_reason == "stop"
    assert r.usage.completion_tokens > 0 and r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_usage_counts_the_whole_prompt_and_reports_the_cached_part(client):
    messages = [{"role": "user", "content": "The same question twice, to hit the prompt cache."}]
    first = client.chat.completions.create(model="hello", messages=messages)
    again = client.chat.completions.create(model="hello", messages=messages)
    assert again.usage.prompt_tokens == first.usage.prompt_tokens  # the whole prompt, cached or not
    assert 0 < again.usage.prompt_tokens_details.cached_tokens < again.usage.prompt_tokens


def test_chat_completion_stream(client):
    stream = client.chat.completions.create(
        model="hello", messages=[{"role": "user", "content": "Hi"}], stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len({c.created for c in chunks}) == 1 and len({c.id for c in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == HELLO_SCRIPT
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finish) == 1 and finish[0].choices[0].finish_reason == "stop"
    assert finish[0].choices[0].delta.content is None
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


def test_sse_wire_format(live):
    body = {"model": "hello", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    with httpx.stream("POST", live.url + "/v1/chat/completions", json=body) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = r.read().decode()
    events = raw.split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    assert all(e.startswith("data: ") for e in events[:-1])
    assert json.loads(events[0][6:])["object"] == "chat.completion.chunk"


def test_max_tokens_gives_length(client):
    r = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "Hi"}], max_tokens=3)
    assert r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 3


def test_ollama_options_extension(client, live):
    r = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "Hi"}], max_tokens=2,
        extra_body={"options": {"num_ctx": 256}},
    )
    assert r.choices[0].finish_reason == "length"
    ps = httpx.get(live.url + "/api/ps").json()["models"]
    assert any(m["model"] == "tiny:latest" and m["context_length"] == 256 for m in ps)


def test_tool_calls(client):
    r = client.chat.completions.create(
        model="toolbot", messages=[{"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER_TOOL],
    )
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}

    chunks = list(client.chat.completions.create(
        model="toolbot", messages=[{"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER_TOOL],
        stream=True,
    ))
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert len(calls) == 1 and json.loads(calls[0].function.arguments) == {"city": "Paris"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]

    followup = client.chat.completions.create(
        model="toolbot",
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
        ],
        tools=[WEATHER_TOOL],
    )
    assert followup.choices[0].message is not None


def test_json_schema_and_json_object(client):
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "sunny": {"type": "boolean"}},
              "required": ["city", "sunny"]}
    r = client.chat.completions.create(
        model="jsonbot", messages=[{"role": "user", "content": "weather?"}],
        response_format={"type": "json_schema", "json_schema": {"name": "weather", "schema": schema}},
    )
    assert json.loads(r.choices[0].message.content) == json.loads(JSON_SCRIPT)
    r = client.chat.completions.create(
        model="jsonbot", messages=[{"role": "user", "content": "weather?"}], response_format={"type": "json_object"},
    )
    assert json.loads(r.choices[0].message.content)["city"] == "Paris"


def test_chat_logprobs(client):
    r = client.chat.completions.create(
        model="hello", messages=[{"role": "user", "content": "Hi"}], logprobs=True, top_logprobs=2, max_tokens=4,
    )
    content = r.choices[0].logprobs.content
    assert len(content) == 4 and all(len(t.top_logprobs) == 2 for t in content)


def test_content_parts_and_images(client, live):
    r = client.chat.completions.create(
        model="hello", messages=[{"role": "user", "content": [{"type": "text", "text": "Hi"},
                                                              {"type": "text", "text": "there"}]}],
    )
    assert r.choices[0].message.content == HELLO_SCRIPT
    png = "data:image/png;base64," + base64.b64encode(b"\x89PNG fake").decode()
    body = {"model": "tiny", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": png}}]}]}
    resp = httpx.post(live.url + "/v1/chat/completions", json=body)
    assert resp.status_code == 400 and resp.json()["error"]["type"] == "invalid_request_error"


def test_completions(client):
    r = client.completions.create(model="hello", prompt="Hi")
    assert r.object == "text_completion" and r.id.startswith("cmpl-")
    assert r.choices[0].text == HELLO_SCRIPT and r.choices[0].finish_reason == "stop"
    assert r.usage.completion_tokens > 0
    chunks = list(client.completions.create(model="hello", prompt="Hi", stream=True,
                                            stream_options={"include_usage": True}))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == HELLO_SCRIPT
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    short = client.completions.create(model="tiny", prompt="Hi", max_tokens=2, logprobs=2)
    assert short.choices[0].finish_reason == "length"
    assert len(short.choices[0].logprobs.tokens) == 2


def test_embeddings(client, live):
    r = client.embeddings.create(model="tiny-embed", input=["hello", "world"])
    assert r.object == "list" and [d.index for d in r.data] == [0, 1]
    assert r.usage.prompt_tokens > 0
    vec = r.data[0].embedding
    raw = httpx.post(live.url + "/v1/embeddings",
                     json={"model": "tiny-embed", "input": "hello", "encoding_format": "base64"}).json()
    packed = base64.b64decode(raw["data"][0]["embedding"])
    assert list(struct.unpack(f"<{len(packed) // 4}f", packed)) == pytest.approx(vec, abs=1e-6)
    dims = client.embeddings.create(model="tiny-embed", input="hello", dimensions=4)
    assert len(dims.data[0].embedding) == 4


def test_models(client):
    listed = client.models.list().data
    ids = [m.id for m in listed]
    assert "tiny:latest" in ids
    assert all(m.object == "model" and m.owned_by == "library" and m.created > 0 for m in listed)
    one = client.models.retrieve("tiny:latest")
    assert one.id == "tiny:latest" and one.owned_by == "library"


def test_async_openai_client(live):
    import asyncio

    async def main():
        async with openai.AsyncOpenAI(base_url=live.url + "/v1", api_key="unused", max_retries=0) as c:
            stream = await c.chat.completions.create(model="hello", messages=[{"role": "user", "content": "Hi"}],
                                                     stream=True)
            return "".join([ch.choices[0].delta.content or "" async for ch in stream if ch.choices])

    assert asyncio.run(main()) == HELLO_SCRIPT
