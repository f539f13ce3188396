"""Engine.chat: templates, Modelfile messages and system, history truncation, tools, thinking, format."""

from __future__ import annotations

import json
import re

import pytest

from ollamalib.engine import Engine
from ollamalib.errors import CapabilityError, ContextLengthError, InvalidNameError, ModelNotFoundError
from ollamalib.types import ChatResponse, Message

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]


def _prompt(engine: Engine, model: str, messages, **kw) -> str:
    """The rendered prompt a chat request would send to the model."""
    return engine.render_prompt("chat", model=model, messages=messages, **kw)[0]


def test_chat_answer_and_stream(engine: Engine, scripted):
    model = scripted(" Hi there")
    resp = engine.chat(model=model, messages=[{"role": "user", "content": "Hello"}])
    assert isinstance(resp, ChatResponse)
    assert resp.message.role == "assistant" and resp.message.content == " Hi there"
    assert resp.done_reason == "stop" and resp.eval_count and resp.prompt_eval_count
    assert "context" not in resp.to_wire()
    chunks = list(engine.chat(model=model, messages=[Message(role="user", content="Hello")], stream=True))
    assert "".join(c.message.content for c in chunks) == " Hi there"
    assert chunks[-1].done and chunks[-1].message.content == "" and all(not c.done for c in chunks[:-1])


def test_chat_renders_gguf_jinja_template(engine: Engine, tiny):
    prompt = _prompt(engine, tiny, [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    assert prompt == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"


def test_chat_load_unload_and_errors(engine: Engine, tiny, tiny_embed_gguf):
    resp = engine.chat(model=tiny, messages=[])
    assert resp.done_reason == "load" and resp.message == Message(role="assistant", content="")
    assert len(engine.ps().models) == 1
    assert engine.chat(model=tiny, keep_alive=0).done_reason == "unload"
    assert engine.ps().models == []
    with pytest.raises(InvalidNameError, match="^model is required$"):
        engine.chat(model="", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(ModelNotFoundError, match="^model 'missing:latest' not found$"):
        engine.chat(model="missing:latest", messages=[{"role": "user", "content": "x"}])
    engine.create("embedder", from_=str(tiny_embed_gguf))
    with pytest.raises(CapabilityError, match='^"embedder" does not support chat$'):
        engine.chat(model="embedder", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(CapabilityError, match="^registry.ollama.ai/library/tiny:latest does not support tools$"):
        engine.chat(model=tiny, messages=[{"role": "user", "content": "x"}], tools=TOOLS)


def test_modelfile_messages_and_system(engine: Engine, scripted, go_template):
    model = scripted(" ok", template=go_template, system="Be brief.",
                     messages=[{"role": "user", "content": "M1"}, {"role": "assistant", "content": "M2"}])
    prompt = _prompt(engine, model, [{"role": "user", "content": "U"}])
    assert prompt.startswith("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nM1<|im_end|>\n")
    assert prompt.index("M2") < prompt.index("U<|im_end|>")
    own = _prompt(engine, model, [{"role": "system", "content": "Mine."}, {"role": "user", "content": "U"}])
    assert "Be brief." not in own and "Mine." in own  # a request system message replaces SYSTEM


def test_history_truncation_keeps_system_and_last(engine: Engine, tiny):
    system = {"role": "system", "content": "SYSTEM-RULES"}
    history = [system]
    for i in range(40):
        history.append({"role": "user", "content": f"question {i} " + "word " * 10})
        history.append({"role": "assistant", "content": f"answer {i} " + "word " * 10})
    history.append({"role": "user", "content": "LAST-QUESTION"})
    prompt = _prompt(engine, tiny, history, options={"num_ctx": 256})
    assert prompt.startswith("<|im_start|>system\nSYSTEM-RULES<|im_end|>")
    assert prompt.endswith("<|im_start|>user\nLAST-QUESTION<|im_end|>\n<|im_start|>assistant\n")
    assert "question 0 " not in prompt and "answer 39 " in prompt  # oldest dropped, newest kept
    runner = engine.scheduler.loaded()[0].runner
    assert len(runner.tokenize(prompt)) <= 256
    oldest = min(int(n) for n in re.findall(r"(?:question|answer) (\d+) ", prompt))
    one_more = [system] + history[2 * oldest:]  # the next older message too: no longer fits
    longer = engine._model(tiny).template.render(one_more)
    assert len(runner.tokenize(longer)) > 256 and longer.endswith(prompt[len("<|im_start|>system\nSYSTEM-RULES"):])
    with pytest.raises(ContextLengthError, match="^the prompt is longer than the context length"):
        engine.chat(model=tiny, messages=history, options={"num_ctx": 256}, truncate=False)
    resp = engine.chat(model=tiny, messages=history, options={"num_ctx": 256, "num_predict": 3})
    assert resp.prompt_eval_count <= 256


def test_tool_calls_parsed_from_output(engine: Engine, scripted, go_template):
    script = ('Let me check.<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}\n'
              "</tool_call>")
    model = scripted(script, template=go_template)
    caps = engine.show(model).capabilities
    assert "tools" in caps
    prompt = _prompt(engine, model, [{"role": "user", "content": "weather?"}], tools=TOOLS)
    assert '"name":"get_weather"' in prompt  # tools reach the template
    resp = engine.chat(model=model, messages=[{"role": "user", "content": "weather?"}], tools=TOOLS)
    assert resp.message.content == "Let me check."
    [call] = resp.message.tool_calls
    assert re.fullmatch(r"call_[a-z0-9]{8}", call.id)
    assert call.function.name == "get_weather" and call.function.index == 0
    assert list(call.function.arguments.items()) == [("city", "Paris"), ("unit", "c")]
    chunks = list(engine.chat(model=model, messages=[{"role": "user", "content": "weather?"}], tools=TOOLS,
                              stream=True))
    assert "".join(c.message.content for c in chunks) == "Let me check."
    call_chunks = [c for c in chunks if c.message.tool_calls]
    assert len(call_chunks) == 1 and not call_chunks[0].done  # arrives in a normal chunk, as soon as parsed
    assert not any("tool_call" in c.message.content for c in chunks)
    # without tools in the request the text is plain content
    plain = engine.chat(model=model, messages=[{"role": "user", "content": "weather?"}])
    assert plain.message.content == script and plain.message.tool_calls is None


def test_tool_results_round_trip(engine: Engine, scripted, go_template):
    model = scripted(" It is sunny.", template=go_template)
    history = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "content": "sunny, 21C", "tool_name": "get_weather"},
    ]
    prompt = _prompt(engine, model, history, tools=TOOLS)
    assert '{"name": "get_weather", "arguments": {"city":"Paris"}}' in prompt and "sunny, 21C" in prompt
    resp = engine.chat(model=model, messages=history, tools=TOOLS)
    assert resp.message.content == " It is sunny." and resp.message.tool_calls is None


def test_text_that_is_not_a_call_is_released(engine: Engine, scripted, go_template):
    model = scripted("Use <tool_call> carefully.", template=go_template)
    resp = engine.chat(model=model, messages=[{"role": "user", "content": "x"}], tools=TOOLS)
    assert resp.message.content == "Use <tool_call> carefully." and resp.message.tool_calls is None


def test_python_functions_as_tools(engine: Engine, scripted, go_template):
    def add(a: int, b: int = 0) -> int:
        """Add two numbers.

        Args:
            a: the first
            b: the second
        """
        return a + b

    model = scripted('<tool_call>{"name": "add", "arguments": {"a": 2, "b": 3}}', template=go_template)
    prompt = _prompt(engine, model, [{"role": "user", "content": "x"}], tools=[add])
    assert '{"name":"add","description":"Add two numbers.","parameters":{"type":"object","required":["a"],' in prompt
    assert '"properties":{"a":{"type":"integer","description":"the first"}' in prompt
    resp = engine.chat(model=model, messages=[{"role": "user", "content": "x"}], tools=[add])
    assert resp.message.tool_calls[0].function.arguments == {"a": 2, "b": 3}
    assert resp.message.content == ""


def test_thinking_in_chat(engine: Engine, scripted, go_template):
    model = scripted("<think>Weigh it.</think>\n\nYes.", template=go_template)
    resp = engine.chat(model=model, messages=[{"role": "user", "content": "q"}])
    assert resp.message.thinking == "Weigh it." and resp.message.content == "Yes."
    chunks = list(engine.chat(model=model, messages=[{"role": "user", "content": "q"}], think=True, stream=True))
    assert "".join(c.message.thinking or "" for c in chunks) == "Weigh it."
    assert all("<" not in (c.message.content or "") for c in chunks)
    prompt = _prompt(engine, model, [{"role": "user", "content": "q"},
                                     {"role": "assistant", "content": "A", "thinking": "earlier thought"},
                                     {"role": "user", "content": "q2"}])
    assert "<think>earlier thought</think>A" in prompt


def test_chat_format_json(engine: Engine, scripted):
    model = scripted('{"colors": ["red", "blue"]}')
    resp = engine.chat(model=model, messages=[{"role": "user", "content": "colors as json"}], format="json")
    assert json.loads(resp.message.content) == {"colors": ["red", "blue"]}


def test_chat_logprobs(engine: Engine, scripted):
    model = scripted(" yo")
    resp = engine.chat(model=model, messages=[{"role": "user", "content": "x"}], logprobs=True)
    assert [lp.token for lp in resp.logprobs] == [" ", "y", "o"]


def test_format_applies_after_thinking(engine: Engine, scripted, go_template):
    model = scripted("<think>Plan it.</think>not json at all", template=go_template)
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    for stream in (False, True):
        out = engine.chat(model=model, messages=[{"role": "user", "content": "q"}], format=schema, stream=stream,
                          options={"seed": 3})
        chunks = list(out) if stream else [out]
        thinking = "".join(c.message.thinking or "" for c in chunks)
        content = "".join(c.message.content or "" for c in chunks)
        assert thinking == "Plan it."
        assert list(json.loads(content)) == ["n"]  # the answer alone is constrained, after the thinking
        assert chunks[-1].done_reason == "stop"
    off = engine.chat(model=model, messages=[{"role": "user", "content": "q"}], format=schema, think=False,
                      options={"seed": 3})
    assert off.message.thinking is None and list(json.loads(off.message.content)) == ["n"]
