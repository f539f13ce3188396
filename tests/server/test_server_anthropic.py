"""Anthropic's Messages API driven by the official, unchanged ``anthropic`` SDK against a real uvicorn server."""

from __future__ import annotations

import base64

import anthropic
import httpx
import pytest

from srvutil import HELLO_SCRIPT

WEATHER = {"name": "get_weather", "description": "Weather in a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


@pytest.fixture
def client(live):
    with anthropic.Anthropic(base_url=live.url, api_key="unused", max_retries=0) as c:
        yield c


def test_plain_message(client):
    m = client.messages.create(model="hello", max_tokens=64, messages=[{"role": "user", "content": "Hi!"}])
    assert m.id.startswith("msg_") and m.type == "message" and m.role == "assistant"
    assert [b.type for b in m.content] == ["text"] and m.content[0].text == HELLO_SCRIPT
    assert m.stop_reason == "end_turn" and m.stop_sequence is None
    assert m.usage.input_tokens > 0 and m.usage.output_tokens > 0


def test_a_repeated_conversation_reads_its_prefix_from_the_cache(client):
    messages = [{"role": "user", "content": "Tell me about the cache, please, in a few words."}]
    first = client.messages.create(model="hello", max_tokens=64, messages=messages)
    again = client.messages.create(model="hello", max_tokens=64, messages=messages)
    total = first.usage.input_tokens + (first.usage.cache_read_input_tokens or 0)
    assert again.usage.cache_read_input_tokens > 0  # Anthropic's split: input_tokens are only the evaluated ones
    assert again.usage.input_tokens + again.usage.cache_read_input_tokens == total


def test_streamed_through_the_stream_helper(client):
    with client.messages.stream(model="hello", max_tokens=64, system="Be kind.",
                                messages=[{"role": "user", "content": "Hi!"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == HELLO_SCRIPT == final.content[0].text
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0


def test_system_as_text_blocks_and_max_tokens(client):
    m = client.messages.create(model="hello", max_tokens=2, system=[{"type": "text", "text": "Be kind."}],
                               messages=[{"role": "user", "content": [{"type": "text", "text": "Hi!"}]}])
    assert m.stop_reason == "max_tokens" and m.usage.output_tokens == 2


def test_stop_sequences(client):
    m = client.messages.create(model="hello", max_tokens=64, stop_sequences=["friend"],
                               messages=[{"role": "user", "content": "Hi!"}])
    assert m.stop_reason == "stop_sequence" and m.stop_sequence == "friend"
    assert m.content[0].text == HELLO_SCRIPT.split("friend")[0]
    with client.messages.stream(model="hello", max_tokens=64, stop_sequences=["there"],
                                messages=[{"role": "user", "content": "Hi!"}]) as stream:
        final = stream.get_final_message()
    assert (final.stop_reason, final.stop_sequence) == ("stop_sequence", "there")


def test_count_tokens(client):
    short = client.messages.count_tokens(model="hello", messages=[{"role": "user", "content": "Hi"}])
    longer = client.messages.count_tokens(model="hello", system="You are a helpful assistant.",
                                          messages=[{"role": "user", "content": "Hi there, how are you?"}])
    assert 0 < short.input_tokens < longer.input_tokens


def test_tool_use_produced_and_a_tool_result_history(client):
    m = client.messages.create(model="toolbot", max_tokens=128, tools=[WEATHER],
                               messages=[{"role": "user", "content": "Weather in Paris?"}])
    use = [b for b in m.content if b.type == "tool_use"]
    assert m.stop_reason == "tool_use" and len(use) == 1
    assert use[0].name == "get_weather" and use[0].input == {"city": "Paris"} and use[0].id
    follow = client.messages.create(model="toolbot", max_tokens=16, tools=[WEATHER], messages=[
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": use[0].id, "name": "get_weather",
                                           "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use[0].id,
                                      "content": [{"type": "text", "text": "sunny"}]},
                                     {"type": "tool_result", "tool_use_id": use[0].id, "content": "oops",
                                      "is_error": True}]},
    ])
    assert follow.type == "message"
    with client.messages.stream(model="toolbot", max_tokens=128, tools=[WEATHER],
                                messages=[{"role": "user", "content": "Weather in Paris?"}]) as stream:
        final = stream.get_final_message()
    streamed = [b for b in final.content if b.type == "tool_use"]
    assert final.stop_reason == "tool_use" and streamed[0].input == {"city": "Paris"}


def test_image_blocks_need_a_vision_model(client):
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(model="hello", max_tokens=8, messages=[{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
            {"type": "text", "text": "What is it?"}]}])
    assert "does not support vision" in info.value.body["error"]["message"]


def test_errors_have_anthropics_shape(client, live):
    with pytest.raises(anthropic.NotFoundError) as info:
        client.messages.create(model="no-such-model", max_tokens=8, messages=[{"role": "user", "content": "Hi"}])
    assert info.value.body["type"] == "error" and info.value.body["error"]["type"] == "not_found_error"
    r = httpx.post(live.url + "/v1/messages", json={"model": "hello", "messages": [{"role": "user", "content": "Hi"}]})
    assert r.status_code == 400
    assert r.json() == {"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"}}
    r = httpx.post(live.url + "/v1/messages", json={"model": "hello", "max_tokens": 8, "messages": [
        {"role": "user", "content": [{"type": "no_such_block"}]}]})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    r = httpx.post(live.url + "/v1/messages", json={"model": "hello", "max_tokens": 8, "messages": [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": "not an object"}]}]})
    assert r.status_code == 400


def test_x_api_key_is_accepted(server_factory):
    keyed = server_factory(api_key="s3cret")
    with anthropic.Anthropic(base_url=keyed.url, api_key="s3cret", max_retries=0) as good:
        assert good.messages.create(model="hello", max_tokens=8, messages=[{"role": "user", "content": "Hi"}]).content
    with anthropic.Anthropic(base_url=keyed.url, api_key="wrong", max_retries=0) as bad:
        with pytest.raises(anthropic.AuthenticationError) as info:
            bad.messages.create(model="hello", max_tokens=8, messages=[{"role": "user", "content": "Hi"}])
    assert info.value.body["error"]["type"] == "authentication_error"
