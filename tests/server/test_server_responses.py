"""OpenAI's Responses API driven by the official, unchanged ``openai`` SDK against a real uvicorn server."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from srvutil import HELLO_SCRIPT, JSON_SCRIPT

WEATHER = {"type": "function", "name": "get_weather", "description": "Weather in a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def conversation(live, rid: str) -> list[dict]:
    """The chat messages a stored response continued (the server's ResponseStore, read in-process)."""
    found = live.server.config.app.state.responses.get(rid)
    assert found is not None
    return found[1]


@pytest.fixture
def client(live):
    with openai.OpenAI(base_url=live.url + "/v1", api_key="unused", max_retries=0) as c:
        yield c


def test_plain_response(client):
    r = client.responses.create(model="hello", input="Hi!", temperature=0)
    assert r.object == "response" and r.id.startswith("resp_")
    assert r.status == "completed" and r.output_text == HELLO_SCRIPT
    assert [item.type for item in r.output] == ["message"]
    assert r.output[0].content[0].type == "output_text"
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0
    assert r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens


def test_streamed_through_the_stream_helper(client):
    deltas: list[str] = []
    kinds: list[str] = []
    with client.responses.stream(model="hello", input="Hi!", temperature=0) as stream:
        for event in stream:
            kinds.append(event.type)
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = stream.get_final_response()
    assert "".join(deltas) == HELLO_SCRIPT == final.output_text
    assert kinds[:2] == ["response.created", "response.in_progress"]
    for kind in ("response.output_item.added", "response.content_part.added", "response.output_text.done",
                 "response.output_item.done"):
        assert kind in kinds
    assert kinds[-1] == "response.completed" and final.status == "completed"


def test_stream_events_carry_sequence_numbers(live):
    body = {"model": "hello", "input": "Hi!", "stream": True}
    with httpx.stream("POST", live.url + "/v1/responses", json=body, timeout=60) as r:
        datas = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ")]
    assert [d["sequence_number"] for d in datas] == list(range(len(datas)))


def test_multi_turn_input_items_and_instructions(client, live):
    r = client.responses.create(model="hello", instructions="Be brief.", input=[
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": [{"type": "output_text", "text": "Hello."}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Again?"}]},
    ])
    assert r.output_text == HELLO_SCRIPT and r.instructions == "Be brief."
    assert [(m["role"], m["content"]) for m in conversation(live, r.id)] == [
        ("user", "Hi"), ("assistant", "Hello."), ("user", "Again?"), ("assistant", HELLO_SCRIPT)]


def test_previous_response_id_continues_and_the_store_serves_it(client, live):
    first = client.responses.create(model="hello", input="Tell me something.")
    second = client.responses.create(model="hello", input="And more?", previous_response_id=first.id)
    assert second.previous_response_id == first.id and second.output_text == HELLO_SCRIPT
    cached = second.usage.input_tokens_details.cached_tokens  # the continuation reuses the slot's prefix
    assert 0 < cached < second.usage.input_tokens and second.usage.input_tokens > first.usage.input_tokens
    assert [(m["role"], m["content"]) for m in conversation(live, second.id)] == [
        ("user", "Tell me something."), ("assistant", HELLO_SCRIPT), ("user", "And more?"), ("assistant", HELLO_SCRIPT)]
    assert client.responses.retrieve(first.id).output_text == HELLO_SCRIPT
    client.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError) as info:
        client.responses.retrieve(first.id)
    assert info.value.body["message"] == f"Response with id '{first.id}' not found."
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="hello", input="x", previous_response_id=first.id)


def test_unstored_responses_are_not_kept(client):
    r = client.responses.create(model="hello", input="Hi", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(r.id)


def test_function_call_round_trip(client, live):
    r = client.responses.create(model="toolbot", input="Weather in Paris?", tools=[WEATHER])
    calls = [item for item in r.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments) == {"city": "Paris"} and calls[0].call_id
    follow = client.responses.create(model="toolbot", tools=[WEATHER], input=[
        {"role": "user", "content": "Weather in Paris?"},
        {"type": "function_call", "call_id": calls[0].call_id, "name": "get_weather", "arguments": calls[0].arguments},
        {"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny, 24 C"},
    ])
    assert follow.status == "completed"
    sent = conversation(live, follow.id)
    assert sent[1]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": {"city": "Paris"}}
    assert {k: sent[2][k] for k in ("role", "content", "tool_name")} == {
        "role": "tool", "content": "sunny, 24 C", "tool_name": "get_weather"}


def test_streamed_function_call(client):
    with client.responses.stream(model="toolbot", input="Weather in Paris?", tools=[WEATHER]) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert "response.function_call_arguments.delta" in kinds and "response.function_call_arguments.done" in kinds
    call = next(item for item in final.output if item.type == "function_call")
    assert json.loads(call.arguments) == {"city": "Paris"}


def test_json_schema_output(client):
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "sunny": {"type": "boolean"}},
              "required": ["city", "sunny"]}
    r = client.responses.create(model="jsonbot", input="Weather?",
                                text={"format": {"type": "json_schema", "name": "weather", "schema": schema}})
    assert json.loads(r.output_text) == json.loads(JSON_SCRIPT)


def test_max_output_tokens_makes_it_incomplete(client):
    r = client.responses.create(model="hello", input="Hi", max_output_tokens=2)
    assert r.status == "incomplete" and r.incomplete_details.reason == "max_output_tokens"
    assert r.usage.output_tokens == 2


def test_missing_model_and_bad_input_get_openai_errors(client, live):
    with pytest.raises(openai.NotFoundError) as info:
        client.responses.create(model="no-such-model", input="Hi")
    assert info.value.status_code == 404 and "not found" in info.value.body["message"]
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="hello", input=[{"type": "no_such_item"}])
    assert "unsupported input item type" in info.value.body["message"]
    bad_args = [{"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{not json"}]
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="hello", input=bad_args)
    r = httpx.post(live.url + "/v1/responses", content=b"{", timeout=30)
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
