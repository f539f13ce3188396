"""GGUF Jinja chat templates rendered as transformers' apply_chat_template renders them."""

from __future__ import annotations

import datetime as dt

import pytest

from ollamalib.errors import TemplateError
from ollamalib.template import Template, TemplateExecError, TemplateSyntaxError, detect_kind
from ollamalib.types import Message, Tool, ToolCall, ToolCallFunction, ToolFunction

# ChatML as Qwen2.5-Instruct ships it (tokenizer_config.json chat_template), with tool support
QWEN25 = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""

# plain ChatML (e.g. OpenHermes, TinyLlama-chat style)
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Meta-Llama-3-8B-Instruct
LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)

# Gemma 3 (google/gemma-3-*-it)
GEMMA3 = """{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\\n\\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>\\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\\n'}}
{%- endif -%}
"""

SYSTEM = Message(role="system", content="You are a helpful assistant.")
USER = Message(role="user", content="Hello, how are you?")
ASSISTANT = Message(role="assistant", content="I'm doing great. How can I help you today?")
USER2 = Message(role="user", content="I'd like to show off how chat templating works!")
CONVERSATION = [SYSTEM, USER, ASSISTANT, USER2]

WEATHER = Tool(
    function=ToolFunction(
        name="get_weather",
        description="Get the weather in a city",
        parameters={"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}},
    )
)


def test_kinds_are_detected() -> None:
    for text in (QWEN25, CHATML, LLAMA3, GEMMA3):
        assert Template(text).kind == "jinja"
    assert detect_kind("{{ .Prompt }}") == "go"
    assert detect_kind("{{ bos_token }}{{ messages[0].content }}") == "jinja"
    assert detect_kind("no delimiters at all") == "go"
    assert detect_kind("{# comment #}{{ x }}") == "jinja"
    with pytest.raises(TemplateSyntaxError):
        detect_kind("{{ .Prompt ")
    with pytest.raises(TemplateSyntaxError):
        detect_kind("{% if %}")


def test_explicit_kind() -> None:
    assert Template("{{ x }}", kind="jinja").render([]) == ""
    with pytest.raises(TemplateSyntaxError):
        Template("{{ x }}", kind="go")
    with pytest.raises(ValueError):
        Template("x", kind="mustache")  # type: ignore[arg-type]


def test_chatml() -> None:
    expected = (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello, how are you?<|im_end|>\n"
        "<|im_start|>assistant\nI'm doing great. How can I help you today?<|im_end|>\n"
        "<|im_start|>user\nI'd like to show off how chat templating works!<|im_end|>\n<|im_start|>assistant\n"
    )
    assert Template(CHATML).render(CONVERSATION) == expected
    assert Template(CHATML).render(CONVERSATION, add_generation_prompt=False) == expected.removesuffix(
        "<|im_start|>assistant\n"
    )


def test_llama3() -> None:
    expected = (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHello, how are you?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nI'm doing great. How can I help you today?<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nI'd like to show off how chat templating works!<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    assert Template(LLAMA3).render(CONVERSATION, bos_token="<|begin_of_text|>") == expected


def test_gemma3() -> None:
    expected = (
        "<bos><start_of_turn>user\nYou are a helpful assistant.\n\nHello, how are you?<end_of_turn>\n"
        "<start_of_turn>model\nI'm doing great. How can I help you today?<end_of_turn>\n"
        "<start_of_turn>user\nI'd like to show off how chat templating works!<end_of_turn>\n<start_of_turn>model\n"
    )
    assert Template(GEMMA3).render(CONVERSATION, bos_token="<bos>") == expected
    # the same words as Ollama's gemma3-instruct Go template renders (with no BOS)
    assert Template(GEMMA3).render([USER]) == "<start_of_turn>user\nHello, how are you?<end_of_turn>\n<start_of_turn>model\n"


def test_gemma3_raise_exception() -> None:
    with pytest.raises(TemplateExecError) as info:
        Template(GEMMA3).render([USER, USER2])
    assert str(info.value) == "Conversation roles must alternate user/assistant/user/assistant/..."
    assert isinstance(info.value, TemplateError)


def test_qwen25_with_tools() -> None:
    call = ToolCall(function=ToolCallFunction(name="get_weather", arguments={"city": "Zürich"}))
    rendered = Template(QWEN25).render(
        [
            Message(role="user", content="Weather in Zürich?"),
            Message(role="assistant", content="", tool_calls=[call]),
            Message(role="tool", content='{"temp": 21}', tool_name="get_weather"),
            Message(role="tool", content='{"wind": 3}', tool_name="get_weather"),
        ],
        tools=[WEATHER],
    )
    assert rendered == (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.\n\n# Tools\n\n"
        "You may call one or more functions to assist with the user query.\n\nYou are provided with function "
        "signatures within <tools></tools> XML tags:\n<tools>\n"
        '{"type": "function", "function": {"name": "get_weather", "description": "Get the weather in a city", '
        '"parameters": {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}}}\n'
        "</tools>\n\nFor each function call, return a json object with function name and arguments within "
        '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n'
        "</tool_call><|im_end|>\n"
        "<|im_start|>user\nWeather in Zürich?<|im_end|>\n"
        '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Zürich"}}\n</tool_call>'
        "<|im_end|>\n"
        '<|im_start|>user\n<tool_response>\n{"temp": 21}\n</tool_response>\n<tool_response>\n{"wind": 3}\n'
        "</tool_response><|im_end|>\n<|im_start|>assistant\n"
    )


def test_qwen25_without_tools() -> None:
    rendered = Template(QWEN25).render([USER], system="Be brief.")
    assert rendered == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello, how are you?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_hints() -> None:
    qwen = Template(QWEN25)
    assert qwen.capabilities == {"tools"}
    assert qwen.tool_call_prefix == "<tool_call>"
    assert qwen.thinking_tags is None
    assert Template(GEMMA3).capabilities == frozenset()
    assert Template(GEMMA3).tool_call_prefix == "{"
    thinking = Template(
        "{% for m in messages %}{% if m.reasoning_content %}<think>{{ m.reasoning_content }}</think>{% endif %}"
        "{{ m.content }}{% endfor %}{% if enable_thinking is defined and not enable_thinking %}<think>\n\n</think>"
        "{% endif %}"
    )
    assert thinking.capabilities == {"thinking"}
    assert thinking.thinking_tags == ("<think>", "</think>")


def test_hf_environment() -> None:
    # tojson keeps non-ASCII text and does not escape HTML
    assert Template("{{ messages[0].content | tojson }}", kind="jinja").render([{"role": "user", "content": "é<b>"}]) == (
        '"é<b>"'
    )
    assert Template("{{ {'b': 1, 'a': 2} | tojson(indent=2) }}", kind="jinja").render([]) == '{\n  "b": 1,\n  "a": 2\n}'
    # trim_blocks and lstrip_blocks
    assert Template("  {% if true %}\nx\n  {% endif %}\n", kind="jinja").render([]) == "x\n"
    # loop controls
    loop = "{% for m in messages %}{% if loop.index > 2 %}{% break %}{% endif %}{{ m.content }}{% endfor %}"
    assert Template(loop).render([{"role": "user", "content": str(i)} for i in range(5)]) == "01"
    # strftime_now
    year = dt.datetime.now().strftime("%Y")
    assert Template("{{ strftime_now('%Y') }}", kind="jinja").render([]) in (year, str(int(year) + 1))
    # transformers' {% generation %} block renders its body
    assert Template("{% generation %}[{{ messages[0].content }}]{% endgeneration %}").render(
        [{"role": "assistant", "content": "x"}]
    ) == "[x]"


def test_sandbox() -> None:
    with pytest.raises(TemplateError):
        Template("{{ ''.__class__.__mro__[1].__subclasses__() }}", kind="jinja").render([])
    with pytest.raises(TemplateError):
        Template("{% set x = [] %}{{ x.append(1) }}", kind="jinja").render([])


def test_render_errors() -> None:
    with pytest.raises(TemplateExecError):
        Template("{{ messages[5].content }}", kind="jinja").render([])
    with pytest.raises(TemplateSyntaxError) as info:
        Template("line1\n{% for %}", kind="jinja")
    assert info.value.line == 2


def test_variables_passed() -> None:
    t = Template(
        "{{ add_generation_prompt }}|{{ bos_token }}|{{ eos_token }}|{{ tools is none }}|"
        "{{ enable_thinking is defined }}|{{ messages | length }}",
        kind="jinja",
    )
    assert t.render([USER], bos_token="<s>", eos_token="</s>") == "True|<s>|</s>|True|False|1"
    assert Template("{{ enable_thinking }}/{{ reasoning_effort }}", kind="jinja").render([], think="high") == (
        "True/high"
    )
    assert Template("{{ enable_thinking }}", kind="jinja").render([], think=False) == "False"


def test_message_shapes() -> None:
    t = Template(
        "{% for m in messages %}{{ m.role }}|{{ m.content }}|{{ m.reasoning_content }}|{{ m.name }}|"
        "{% for c in m.tool_calls or [] %}{{ c.type }}:{{ c.function.name }}:{{ c.function.arguments.x }}{% endfor %}"
        "{{ '\\n' }}{% endfor %}",
        kind="jinja",
    )
    call = ToolCall(function=ToolCallFunction(name="f", arguments={"x": 1}))
    rendered = t.render(
        [
            Message(role="assistant", content=None, thinking="hmm", tool_calls=[call]),
            Message(role="tool", content="r", tool_name="f"),
            {"role": "USER", "content": "u"},
        ]
    )
    assert rendered == "assistant||hmm||function:f:1\ntool|r||f|\nuser|u|||\n"
