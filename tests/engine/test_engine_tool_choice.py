"""Engine.chat with ``tool_choice``: "none" never calls, "required" and a named function always do, validly.

The forced models have random weights (they babble), so a call can only come from the grammar that
``tool_choice`` adds; every call's arguments are checked against the tool's schema with ``jsonschema``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
from gguf_factory import CHATML_TEMPLATE, TOOLS_JINJA_TEMPLATE, write_tiny_gguf

from ollamalib.engine import AsyncEngine, Engine
from ollamalib.errors import InvalidOptionError

WEATHER_PARAMS = {"type": "object", "properties": {"city": {"type": "string", "enum": ["Paris", "Rome", "Oslo"]},
                                                   "days": {"type": "integer", "minimum": 1, "maximum": 7}},
                  "required": ["city", "days"]}
# A pattern, not just maxLength: a babbler's byte tokens may spell invalid UTF-8, which decodes to more characters
TIME_PARAMS = {"type": "object", "properties": {"zone": {"type": "string", "pattern": "^[A-Za-z ]{1,6}$"}},
               "required": ["zone"]}
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": WEATHER_PARAMS}},
    {"type": "function", "function": {"name": "get_time", "description": "Time", "parameters": TIME_PARAMS}},
]
SCHEMAS = {"get_weather": WEATHER_PARAMS, "get_time": TIME_PARAMS}
USER = [{"role": "user", "content": "Weather in Paris?"}]
# A Jinja template that shows tools but has no tag for calls: its models call tools with bare JSON.
BARE_JSON_TEMPLATE = "{% if tools %}{{ tools | tojson }}\n{% endif %}" + CHATML_TEMPLATE
# Mistral's style: calls follow a [TOOL_CALLS] tag, as a JSON list.
MISTRAL_TEMPLATE = ("{% if tools %}[AVAILABLE_TOOLS]{{ tools | tojson }}[/AVAILABLE_TOOLS]{% endif %}"
                    "{% for message in messages %}{% if message.tool_calls %}[TOOL_CALLS]"
                    "{{ message.tool_calls | map(attribute='function') | list | tojson }}"
                    "{% else %}{{ message.role }}: {{ message.content }}\n{% endif %}{% endfor %}assistant: ")
NAMED = {"type": "function", "function": {"name": "get_time"}}


def sampled(seed: int) -> dict:
    return {"seed": seed, "temperature": 1.0, "num_predict": 160}


def assert_valid(calls, names=tuple(SCHEMAS)) -> None:
    """Exactly one call, to one of ``names``, with arguments valid against its schema."""
    assert calls is not None and len(calls) == 1, calls
    fn = calls[0].function
    assert fn.name in names
    jsonschema.validate(fn.arguments, SCHEMAS[fn.name])


@pytest.fixture
def babbler(engine: Engine, gguf_dir: Path) -> Callable[..., str]:
    """Create a random-weights model with ``chat_template`` in its GGUF (or a Go ``template`` layer)."""

    def make(name: str, *, chat_template: str | None = TOOLS_JINJA_TEMPLATE, template: str | None = None) -> str:
        path = write_tiny_gguf(gguf_dir / f"babbler-{name}.gguf", chat_template=chat_template, seed=3)
        engine.create(name, from_=str(path), template=template)
        assert "tools" in engine.show(name).capabilities
        return name

    return make


def test_named_function_always_called_with_valid_arguments(engine: Engine, babbler):
    model = babbler("qwenish")
    for seed in range(3):
        r = engine.chat(model, USER, tools=TOOLS, tool_choice=NAMED, options=sampled(seed))
        assert_valid(r.message.tool_calls, names=("get_time",))
        assert r.message.content == "" and r.done_reason == "stop"
    r = engine.chat(model, USER, tools=TOOLS, options={**sampled(0), "num_predict": 24})
    assert r.message.tool_calls is None  # the same model, unforced, babbles


def test_required_always_calls_one_of_the_tools(engine: Engine, babbler):
    model = babbler("qwenish")
    seen = set()
    for seed in range(3):
        r = engine.chat(model, USER, tools=TOOLS, tool_choice="required", options=sampled(seed))
        assert_valid(r.message.tool_calls)
        seen.add(r.message.tool_calls[0].function.name)
    chunks = list(engine.chat(model, USER, tools=TOOLS, tool_choice="required", options=sampled(7), stream=True))
    calls = [c for chunk in chunks for c in chunk.message.tool_calls or []]
    assert_valid(calls)
    assert chunks[-1].done and not any("tool_call" in c.message.content for c in chunks)


@pytest.mark.parametrize("kind", ["go-tag", "bare-json", "mistral"])
def test_forcing_writes_each_templates_own_call_format(engine: Engine, babbler, go_template, kind):
    if kind == "go-tag":  # a Go TEMPLATE layer that writes <tool_call> tags
        model = babbler("go-tag", chat_template=None, template=go_template)
    elif kind == "bare-json":  # the calls are bare JSON: the output must start with it
        model = babbler("bare-json", chat_template=BARE_JSON_TEMPLATE)
    else:  # [TOOL_CALLS] then a list
        model = babbler("mistral", chat_template=MISTRAL_TEMPLATE)
        assert engine.render_prompt("chat", model=model, messages=USER, tools=TOOLS)[0].startswith("[AVAILABLE")
    r = engine.chat(model, USER, tools=TOOLS, tool_choice={"type": "function", "function": {"name": "get_weather"}},
                    options=sampled(1))
    assert_valid(r.message.tool_calls, names=("get_weather",))
    assert r.message.content == ""  # the tag, the call and its closing are all consumed by the parser


def test_none_never_yields_a_call(engine: Engine, scripted, go_template):
    script = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}\n</tool_call>'
    model = scripted(script, template=go_template)
    auto = engine.chat(model, USER, tools=TOOLS, tool_choice="auto")
    assert auto.message.tool_calls[0].function.name == "get_weather"  # the model always calls...
    r = engine.chat(model, USER, tools=TOOLS, tool_choice="none")
    assert r.message.tool_calls is None and r.message.content == script  # ...but "none" parses nothing
    streamed = list(engine.chat(model, USER, tools=TOOLS, tool_choice="none", stream=True))
    assert not any(c.message.tool_calls for c in streamed)
    prompt = engine.render_prompt("chat", model=model, messages=USER, tools=TOOLS, tool_choice="none")[0]
    assert "get_weather" not in prompt  # and no tool is offered


def test_async_engine_forces_the_call(engine: Engine, babbler):
    model = babbler("qwenish")

    async def main():
        aengine = AsyncEngine(engine=engine)
        return await aengine.chat(model, USER, tools=TOOLS, tool_choice=NAMED, options=sampled(2))

    assert_valid(asyncio.run(main()).message.tool_calls, names=("get_time",))


@pytest.mark.parametrize(("choice", "tools", "text"), [
    ("sometimes", TOOLS, 'invalid tool_choice: "sometimes" (must be "auto", "none", "required" or '
                         '{"type": "function", "function": {"name": ...}})'),
    (3, TOOLS, "invalid tool_choice: 3 (must be"),
    ({"type": "function"}, TOOLS, 'invalid tool_choice: {"type": "function"} (must be'),
    ({"type": "function", "function": {"name": "nope"}}, TOOLS,
     'tool_choice names the function "nope", which is not among the tools ("get_weather", "get_time")'),
    ("required", None, "tool_choice required needs tools, but the request has none"),
    (NAMED, None, 'tool_choice naming "get_time" needs tools, but the request has none'),
])
def test_bad_tool_choice(engine: Engine, babbler, choice, tools, text):
    model = babbler("qwenish")
    with pytest.raises(InvalidOptionError) as info:
        engine.chat(model, USER, tools=tools, tool_choice=choice)
    assert str(info.value).startswith(text) and info.value.status_code == 400
