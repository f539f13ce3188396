"""``tool_choice`` enforced on every API, driven by the official ``openai`` and ``anthropic`` SDKs and ollamalib's
Client against a real uvicorn server.

"babbler" has random weights and a tool-capable Jinja template: it never calls a tool of its own accord, so each
call here comes from the grammar ``tool_choice`` adds. "toolbot" always writes a call: "none" must parse none.
"""

from __future__ import annotations

import json

import httpx
import jsonschema
import pytest

from ollamalib import Client
from ollamalib.errors import InvalidOptionError
from srvutil import TIME_PARAMS, WEATHER_PARAMS

SCHEMAS = {"get_weather": WEATHER_PARAMS, "get_time": TIME_PARAMS}
SAMPLED = {"temperature": 1.0}
# the tools' JSON in the prompt outgrows the live server's 512 positions, which Responses and Messages refuse
ROOM = {"extra_body": {"options": {"num_ctx": 1024}}}
ASK = "Weather in Paris?"
CHAT_TOOLS = [{"type": "function", "function": {"name": name, "description": name, "parameters": params}}
              for name, params in SCHEMAS.items()]
RESPONSES_TOOLS = [{"type": "function", "name": name, "description": name, "parameters": params}
                   for name, params in SCHEMAS.items()]
ANTHROPIC_TOOLS = [{"name": name, "description": name, "input_schema": params} for name, params in SCHEMAS.items()]


def assert_valid(name: str, arguments: dict, names=tuple(SCHEMAS)) -> None:
    assert name in names
    jsonschema.validate(arguments, SCHEMAS[name])


# --- /v1/chat/completions ------------------------------------------------------------------------------------


def test_chat_completions_named_and_required(oa):
    for seed, choice in enumerate([{"type": "function", "function": {"name": "get_time"}}, "required"]):
        r = oa.chat.completions.create(model="babbler", messages=[{"role": "user", "content": ASK}],
                                       tools=CHAT_TOOLS, tool_choice=choice, seed=seed, max_tokens=200, **SAMPLED)
        choice_ = r.choices[0]
        assert choice_.finish_reason == "tool_calls" and len(choice_.message.tool_calls) == 1
        fn = choice_.message.tool_calls[0].function
        assert_valid(fn.name, json.loads(fn.arguments), ("get_time",) if seed == 0 else tuple(SCHEMAS))
    chunks = list(oa.chat.completions.create(
        model="babbler", messages=[{"role": "user", "content": ASK}], tools=CHAT_TOOLS, stream=True, seed=5,
        tool_choice={"type": "function", "function": {"name": "get_weather"}}, max_tokens=200, **SAMPLED))
    calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert len(calls) == 1
    assert_valid(calls[0].function.name, json.loads(calls[0].function.arguments), ("get_weather",))
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


def test_chat_completions_none(oa):
    r = oa.chat.completions.create(model="toolbot", messages=[{"role": "user", "content": ASK}], tools=CHAT_TOOLS,
                                   tool_choice="none")
    assert r.choices[0].message.tool_calls is None and r.choices[0].finish_reason == "stop"
    assert "<tool_call>" in r.choices[0].message.content  # what the model wrote, as text


# --- /v1/responses ---------------------------------------------------------------------------------------------


def test_responses_named_required_and_streamed(oa):
    r = oa.responses.create(model="babbler", input=ASK, tools=RESPONSES_TOOLS, max_output_tokens=200,
                            tool_choice={"type": "function", "name": "get_weather"}, **SAMPLED, **ROOM)
    calls = [item for item in r.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].call_id and r.status == "completed"
    assert_valid(calls[0].name, json.loads(calls[0].arguments), ("get_weather",))
    assert r.tool_choice.name == "get_weather"  # echoed as sent
    with oa.responses.stream(model="babbler", input=ASK, tools=RESPONSES_TOOLS, tool_choice="required",
                             max_output_tokens=200, **SAMPLED, **ROOM) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert "response.function_call_arguments.done" in kinds and kinds[-1] == "response.completed"
    [call] = [item for item in final.output if item.type == "function_call"]
    assert_valid(call.name, json.loads(call.arguments))


def test_responses_none(oa):
    r = oa.responses.create(model="toolbot", input=ASK, tools=RESPONSES_TOOLS, tool_choice="none")
    assert [item.type for item in r.output] == ["message"] and "<tool_call>" in r.output_text


# --- /v1/messages ----------------------------------------------------------------------------------------------


def test_messages_tool_and_any(claude):
    m = claude.messages.create(model="babbler", max_tokens=200, tools=ANTHROPIC_TOOLS,
                               tool_choice={"type": "tool", "name": "get_time"},
                               messages=[{"role": "user", "content": ASK}], **ROOM)
    [use] = [b for b in m.content if b.type == "tool_use"]
    assert m.stop_reason == "tool_use" and use.id
    assert_valid(use.name, use.input, ("get_time",))
    with claude.messages.stream(model="babbler", max_tokens=200, tools=ANTHROPIC_TOOLS,
                                tool_choice={"type": "any"}, messages=[{"role": "user", "content": ASK}],
                                **ROOM) as stream:
        final = stream.get_final_message()
    [use] = [b for b in final.content if b.type == "tool_use"]
    assert final.stop_reason == "tool_use"
    assert_valid(use.name, use.input)


def test_messages_none(claude):
    m = claude.messages.create(model="toolbot", max_tokens=128, tools=ANTHROPIC_TOOLS, tool_choice={"type": "none"},
                               messages=[{"role": "user", "content": ASK}])
    assert [b.type for b in m.content] == ["text"] and m.stop_reason == "end_turn"


# --- /api/chat (ollamalib's extension) -------------------------------------------------------------------------


def test_native_chat_through_the_client(live):
    with Client(live.url) as client:
        r = client.chat("babbler", [{"role": "user", "content": ASK}], tools=CHAT_TOOLS, options=SAMPLED,
                        tool_choice={"type": "function", "function": {"name": "get_weather"}})
        [call] = r.message.tool_calls
        assert_valid(call.function.name, call.function.arguments, ("get_weather",))
        none = client.chat("toolbot", [{"role": "user", "content": ASK}], tools=CHAT_TOOLS, tool_choice="none")
        assert none.message.tool_calls is None
        with pytest.raises(InvalidOptionError, match='^tool_choice names the function "f"'):
            client.chat("babbler", [{"role": "user", "content": ASK}], tools=CHAT_TOOLS,
                        tool_choice={"type": "function", "function": {"name": "f"}})


# --- bad tool_choice: each API's own 400 -----------------------------------------------------------------------


@pytest.mark.parametrize(("path", "body", "needle"), [
    ("/api/chat", {"model": "babbler", "messages": [{"role": "user", "content": ASK}], "tools": CHAT_TOOLS,
                   "tool_choice": "always"}, 'invalid tool_choice: "always"'),
    ("/api/chat", {"model": "babbler", "messages": [{"role": "user", "content": ASK}], "tool_choice": "required"},
     "tool_choice required needs tools"),
    ("/v1/chat/completions", {"model": "babbler", "messages": [{"role": "user", "content": ASK}], "tools": CHAT_TOOLS,
                              "tool_choice": {"type": "function", "function": {"name": "nope"}}},
     'tool_choice names the function "nope"'),
    ("/v1/chat/completions", {"model": "babbler", "messages": [{"role": "user", "content": ASK}], "tools": CHAT_TOOLS,
                              "tool_choice": 7}, "invalid tool_choice: 7"),
    ("/v1/responses", {"model": "babbler", "input": ASK, "tools": RESPONSES_TOOLS,
                       "tool_choice": {"type": "function", "name": "nope"}}, 'tool_choice names the function "nope"'),
    ("/v1/responses", {"model": "babbler", "input": ASK, "tools": RESPONSES_TOOLS,
                       "tool_choice": {"type": "file_search"}}, 'invalid tool_choice: {"type": "file_search"}'),
    ("/v1/messages", {"model": "babbler", "max_tokens": 8, "messages": [{"role": "user", "content": ASK}],
                      "tools": ANTHROPIC_TOOLS, "tool_choice": {"type": "tool", "name": "nope"}},
     'tool_choice names the function "nope"'),
    ("/v1/messages", {"model": "babbler", "max_tokens": 8, "messages": [{"role": "user", "content": ASK}],
                      "tools": ANTHROPIC_TOOLS, "tool_choice": "any"}, "tool_choice: must be"),
])
def test_bad_tool_choice_gets_each_apis_400(live, path, body, needle):
    for stream in (False, True):
        r = httpx.post(live.url + path, json={**body, "stream": stream}, timeout=60)
        assert r.status_code == 400, r.text
        data = r.json()
        if path == "/api/chat":
            assert needle in data["error"]
        elif path == "/v1/messages":
            assert data["type"] == "error" and data["error"]["type"] == "invalid_request_error"
            assert needle in data["error"]["message"]
        else:
            assert data["error"]["type"] == "invalid_request_error" and needle in data["error"]["message"]
