"""Ollama's template semantics: variables, modes (messages, legacy, suffix), collation, tools, hints.

Cases marked "upstream" are Ollama's own test expectations (template_test.go, tools/template_test.go,
thinking/template_test.go, api/types_typescript_test.go).
"""

from __future__ import annotations

from typing import Any

import pytest

from ollamalib.errors import TemplateError
from ollamalib.template import DEFAULT_TEMPLATE, Template, TemplateExecError, TemplateSyntaxError
from ollamalib.types import Message, Tool, ToolCall, ToolCallFunction, ToolFunction


def msgs(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"role": r, "content": c} for r, c in pairs]


# --- Vars and the automatic {{ .Response }} ---------------------------------------------------------------

CHATML_EITHER = """{{- if .Messages }}
{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
{{ else -}}
{{ if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}{{ if .Prompt }}<|im_start|>user
{{ .Prompt }}<|im_end|>
{{ end }}<|im_start|>assistant
{{ .Response }}<|im_end|>
{{- end -}}"""


@pytest.mark.parametrize(
    ("text", "variables"),
    [  # upstream TestParseVars
        ("{{ .Prompt }}", ["prompt", "response"]),
        ("{{ .System }} {{ .Prompt }}", ["prompt", "response", "system"]),
        ("{{ .System }} {{ .Prompt }} {{ .Response }}", ["prompt", "response", "system"]),
        ("{{ with .Tools }}{{ . }}{{ end }} {{ .System }} {{ .Prompt }}", ["prompt", "response", "system", "tools"]),
        ("{{ range .Messages }}{{ .Role }} {{ .Content }}{{ end }}", ["content", "messages", "role"]),
        (
            '{{- range .Messages }}\n{{- if eq .Role "system" }}SYSTEM:\n{{- else if eq .Role "user" }}USER:\n'
            '{{- else if eq .Role "assistant" }}ASSISTANT:\n{{- end }} {{ .Content }}\n{{- end }}',
            ["content", "messages", "role"],
        ),
        (CHATML_EITHER, ["content", "messages", "prompt", "response", "role", "system"]),
        ("{{ json .Messages }}", ["messages"]),
    ],
)
def test_vars(text: str, variables: list[str]) -> None:
    assert Template(text).variables == variables


def test_undefined_function_is_a_parse_error() -> None:
    with pytest.raises(TemplateSyntaxError) as info:
        Template("{{ undefined }}", kind="go")
    assert str(info.value) == 'template: :1: function "undefined" not defined'


def test_template_call_without_pipeline_is_refused() -> None:
    # upstream TestParseError: Ollama's Parse rejects a {{template}} call without a pipeline
    with pytest.raises(TemplateSyntaxError) as info:
        Template('{{define "x"}}{{template "x"}}{{end}}{{template "x"}}', kind="go")
    assert str(info.value) == "undefined template specified"
    t = Template('{{define "x"}}[{{ . }}]{{end}}{{ range .Messages }}{{template "x" .Content}}{{ end }}')
    assert t.render(prompt="p") == "[p]"
    # a legacy template's last turn runs without the defined templates, as in Ollama
    with pytest.raises(TemplateExecError):
        Template('{{define "x"}}[{{ . }}]{{end}}{{template "x" .Prompt}}').render(prompt="p")


def test_default_template() -> None:
    t = Template()
    assert t.kind == "go"
    assert t.text == DEFAULT_TEMPLATE == Template.DEFAULT == "{{ .Prompt }}"
    assert t.render(prompt="why is the sky blue?") == "why is the sky blue?"
    # legacy mode: one execution per turn, the response of earlier turns included
    assert t.render(msgs(("user", "a"), ("assistant", "b"), ("user", "c"))) == "abc"
    assert Template.default() == t


def test_response_is_appended_when_neither_messages_nor_response_is_used() -> None:
    t = Template("[{{ .Prompt }}]")
    assert t.render(msgs(("user", "q"), ("assistant", "a"), ("user", "q2"))) == "[q]a[q2]"


# --- legacy, messages and suffix modes (upstream TestExecuteWithMessages / TestExecuteWithSuffix) ----------

MISTRAL_TEMPLATES = {
    "no response": "[INST] {{ if .System }}{{ .System }}\n\n{{ end }}{{ .Prompt }}[/INST] ",
    "response": "[INST] {{ if .System }}{{ .System }}\n\n{{ end }}{{ .Prompt }}[/INST] {{ .Response }}",
    "messages": "[INST] {{ if .System }}{{ .System }}\n\n{{ end }}\n{{- range .Messages }}\n"
    '{{- if eq .Role "user" }}{{ .Content }}[/INST] {{ else if eq .Role "assistant" }}{{ .Content }}[INST] {{ end }}\n'
    "{{- end }}",
}
MISTRAL_ASSISTANT_TEMPLATES = {
    "no response": "[INST] {{ .Prompt }}[/INST] ",
    "response": "[INST] {{ .Prompt }}[/INST] {{ .Response }}",
    "messages": "\n{{- range $i, $m := .Messages }}\n"
    '{{- if eq .Role "user" }}[INST] {{ .Content }}[/INST] {{ else if eq .Role "assistant" }}{{ .Content }}{{ end }}\n'
    "{{- end }}",
}
CHATML_TEMPLATES = {
    "response": "{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}{{ if .Prompt }}<|im_start|>user\n"
    "{{ .Prompt }}<|im_end|>\n{{ end }}<|im_start|>assistant\n{{ .Response }}<|im_end|>\n",
    "messages": "\n{{- range $index, $_ := .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n"
    "{{ end }}<|im_start|>assistant\n",
}
FRIEND = msgs(("user", "Hello friend!"), ("assistant", "Hello human!"), ("user", "What is your name?"))
SYSTEM_FRIEND = msgs(("system", "You are a helpful assistant!")) + FRIEND

EXECUTE_CASES = [
    (MISTRAL_TEMPLATES, FRIEND, "[INST] Hello friend![/INST] Hello human![INST] What is your name?[/INST] "),
    (
        MISTRAL_TEMPLATES,
        SYSTEM_FRIEND,
        "[INST] You are a helpful assistant!\n\nHello friend![/INST] Hello human![INST] What is your name?[/INST] ",
    ),
    (
        MISTRAL_ASSISTANT_TEMPLATES,
        [*FRIEND, {"role": "assistant", "content": "My name is Ollama and I"}],
        "[INST] Hello friend![/INST] Hello human![INST] What is your name?[/INST] My name is Ollama and I",
    ),
    (
        CHATML_TEMPLATES,
        SYSTEM_FRIEND,
        "<|im_start|>system\nYou are a helpful assistant!<|im_end|>\n<|im_start|>user\nHello friend!<|im_end|>\n"
        "<|im_start|>assistant\nHello human!<|im_end|>\n<|im_start|>user\nWhat is your name?<|im_end|>\n"
        "<|im_start|>assistant\n",
    ),
]


@pytest.mark.parametrize(
    ("text", "messages", "expected"),
    [(text, m, e) for templates, m, e in EXECUTE_CASES for text in templates.values()],
)
def test_legacy_and_messages_templates_agree(text: str, messages: list[dict[str, str]], expected: str) -> None:
    assert Template(text).render(messages) == expected


SUFFIX = "{{- if .Suffix }}<PRE> {{ .Prompt }} <SUF>{{ .Suffix }} <MID>\n{{- else }}{{ .Prompt }}\n{{- end }}"


def test_suffix_mode() -> None:
    t = Template(SUFFIX)
    assert t.render(msgs(("user", "hello"))) == "hello"
    assert t.render(prompt="def add(", suffix="return x") == "<PRE> def add( <SUF>return x <MID>"
    assert t.capabilities == {"insert"}
    # suffix mode needs both a prompt and a suffix; then only .Prompt/.Suffix/.Response/.Think* exist
    assert t.render(prompt="p", suffix="") == "p"
    assert Template("{{ .Prompt }}|{{ .System }}|{{ .Suffix }}").render(
        prompt="p", suffix="s", system="sys"
    ) == "p|<no value>|s"


def test_legacy_turns_with_system_messages() -> None:
    t = Template("{{ if .System }}S:{{ .System }} {{ end }}P:{{ .Prompt }} R:{{ .Response }}|")
    rendered = t.render(msgs(("system", "s"), ("user", "u1"), ("assistant", "a1"), ("user", "u2")))
    assert rendered == "S:s P:u1 R:a1|P:u2 R:"
    # a system message mid-conversation closes the pending turn
    rendered = t.render(msgs(("user", "u1"), ("system", "s2"), ("user", "u2")))
    assert rendered == "P:u1 R:|S:s2 P:u2 R:"


def test_legacy_last_turn_has_no_functions() -> None:
    # Ollama executes the cut last turn as a bare template, without its functions
    t = Template("{{ json .Prompt }}{{ .Response }}")
    with pytest.raises(TemplateExecError) as info:
        t.render(msgs(("user", "x")))
    assert '"json" is not a defined function' in str(info.value)


def test_legacy_cut_drops_everything_after_response() -> None:
    t = Template("<{{ .Prompt }}>{{ .Response }}{{ if .Response }}</s>{{ end }} tail")
    assert t.render(msgs(("user", "a"), ("assistant", "b"), ("user", "c"))) == "<a>b</s> tail<c>"


# --- collation ------------------------------------------------------------------------------------------


def test_collation() -> None:
    t = Template("{{ .System }}|{{ range .Messages }}{{ .Role }}={{ .Content }};{{ end }}")
    rendered = t.render(
        msgs(
            ("system", "a"),
            ("system", "b"),
            ("user", "x"),
            ("user", "y"),
            ("tool", "t1"),
            ("tool", "t2"),
            ("assistant", "z"),
        )
    )
    assert rendered == "a\n\nb|system=a\n\nb;user=x\n\ny;tool=t1;tool=t2;assistant=z;"


def test_system_argument_and_prompt_argument() -> None:
    t = Template("{{ range .Messages }}{{ .Role }}:{{ .Content }};{{ end }}")
    assert t.render(msgs(("user", "hi")), system="sys", prompt="more") == "system:sys;user:hi\n\nmore;"


def test_roles_are_lower_cased() -> None:
    t = Template("{{ range .Messages }}{{ .Role }}{{ end }}")
    assert t.render([{"role": "USER", "content": ""}, Message(role="Assistant", content="")]) == "userassistant"


# --- thinking -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("think", "level", "expected"),
    [
        (None, None, "false//false"),
        (True, None, "true/medium/true"),
        (False, None, "false//true"),
        ("high", None, "true/high/true"),
        (None, "low", "true/low/true"),
        (True, "high", "true/high/true"),
    ],
)
def test_think_values(think: bool | str | None, level: str | None, expected: str) -> None:
    t = Template("{{ range .Messages }}{{ end }}{{ .Think }}/{{ .ThinkLevel }}/{{ .IsThinkSet }}")
    assert t.render(msgs(("user", "q")), think=think, think_level=level) == expected


# --- message fields -------------------------------------------------------------------------------------


def test_message_fields() -> None:
    t = Template(
        "{{ range .Messages }}{{ .Role }}|{{ .Content }}|{{ .Thinking }}|{{ len .Images }}|"
        "{{ range .ToolCalls }}{{ .ID }},{{ .Function.Index }},{{ .Function.Name }},{{ .Function.Arguments }}{{ end }}|"
        "{{ .ToolName }}|{{ .ToolCallID }}\n{{ end }}"
    )
    call = ToolCall(id="call_1", function=ToolCallFunction(index=2, name="f", arguments={"b": 1, "a": "x"}))
    messages = [
        Message(role="assistant", content="c", thinking="t", images=["aGk="], tool_calls=[call]),
        Message(role="tool", content="r", tool_name="f", tool_call_id="call_1"),
    ]
    assert t.render(messages) == 'assistant|c|t|1|call_1,2,f,{"a":"x","b":1}||\ntool|r||0||f|call_1\n'


def test_json_of_messages() -> None:
    t = Template("{{ json .Messages }}")
    assert t.render([Message(role="user", content="<hi>", images=["aGk="])]) == (
        '[{"Role":"user","Content":"\\u003chi\\u003e","Thinking":"","Images":["aGk="],"ToolCalls":null,'
        '"ToolName":"","ToolCallID":""}]'
    )


def test_printing_a_message() -> None:
    t = Template("{{ range .Messages }}{{ . }}|{{ print .Content }}{{ end }}")
    # Role, Content, Thinking, Images, ToolCalls, ToolName, ToolCallID
    assert t.render(msgs(("user", "hi"))) == "{user hi  [] []  }|hi"


def test_tool_call_arguments_are_json_numbers() -> None:
    t = Template("{{ range .Messages }}{{ range .ToolCalls }}{{ .Function.Arguments.n }} "
                 "{{ .Function.Arguments }} {{ json .Function.Arguments }}{{ end }}{{ end }}")
    call = {"function": {"name": "f", "arguments": {"n": 12345678, "x": 0.5}}}
    expected = '1.2345678e+07 {"n":12345678,"x":0.5} {"n":12345678,"x":0.5}'
    assert t.render([{"role": "assistant", "content": "", "tool_calls": [call]}]) == expected


def test_arguments_given_as_a_json_string() -> None:
    t = Template("{{ range .Messages }}{{ range .ToolCalls }}{{ .Function.Arguments }}{{ end }}{{ end }}")
    call = {"function": {"name": "f", "arguments": '{"b": 2, "a": 1}'}}
    assert t.render([{"role": "assistant", "content": "", "tool_calls": [call]}]) == '{"a":1,"b":2}'


def test_merged_messages_keep_the_first_ones_fields() -> None:
    t = Template("{{ range .Messages }}{{ .Content }}:{{ len .ToolCalls }}{{ end }}")
    call = {"function": {"name": "f", "arguments": {}}}
    rendered = t.render(
        [{"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b", "tool_calls": [call]}]
    )
    assert rendered == "a\n\nb:0"


def test_no_messages_and_no_tools() -> None:
    t = Template("{{ if .Messages }}m{{ else }}none{{ end }}|{{ .Tools }}|{{ json .Tools }}|{{ .Prompt }}")
    assert t.render([]) == "none|null|null|<no value>"
    # an empty tool list is not nil (Ollama decodes "tools": [] to an empty slice)
    assert t.render([], tools=[]) == "none|[]|[]|<no value>"


# --- tools ----------------------------------------------------------------------------------------------

WEATHER = Tool(
    function=ToolFunction(
        name="get_weather",
        description="Get <weather> & more",
        parameters={
            "type": "object",
            "required": ["location"],
            "properties": {
                "location": {"type": "string", "description": "City"},
                "unit": {"type": ["string", "null"], "enum": ["c", "f"]},
            },
        },
    )
)
WEATHER_JSON = (
    '{"name":"get_weather","description":"Get \\u003cweather\\u003e \\u0026 more","parameters":{"type":"object",'
    '"required":["location"],"properties":{"location":{"type":"string","description":"City"},'
    '"unit":{"type":["string","null"],"enum":["c","f"]}}}}'
)

QWEN25 = """{{- if or .System .Tools }}<|im_start|>system
{{- if .System }}
{{ .System }}
{{- end }}
{{- if .Tools }}

# Tools

<tools>
{{- range .Tools }}
{"type": "function", "function": {{ .Function }}}
{{- end }}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call>
{{- end }}<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 -}}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
{{ if .Content }}{{ .Content }}
{{- else if .ToolCalls }}<tool_call>
{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}
{{ end }}</tool_call>
{{- end }}{{ if not $last }}<|im_end|>
{{ end }}
{{- else if eq .Role "tool" }}<|im_start|>user
<tool_response>
{{ .Content }}
</tool_response><|im_end|>
{{ end }}
{{- if and (ne .Role "assistant") $last }}<|im_start|>assistant
{{ end }}
{{- end }}"""


def test_qwen25_tools() -> None:
    t = Template(QWEN25)
    call = ToolCall(function=ToolCallFunction(name="get_weather", arguments={"location": "Paris"}))
    rendered = t.render(
        [
            Message(role="user", content="Weather?"),
            Message(role="assistant", content="", tool_calls=[call]),
            Message(role="tool", content="sunny", tool_name="get_weather"),
        ],
        system="Be brief.",
        tools=[WEATHER],
    )
    assert rendered == (
        "<|im_start|>system\nBe brief.\n\n# Tools\n\n<tools>\n"
        '{"type": "function", "function": ' + WEATHER_JSON + "}\n</tools>\n\n"
        "For each function call, return a json object with function name and arguments within <tool_call></tool_call>"
        ' XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\nWeather?<|im_end|>\n"
        '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"location":"Paris"}}\n'
        "</tool_call><|im_end|>\n"
        "<|im_start|>user\n<tool_response>\nsunny\n</tool_response><|im_end|>\n<|im_start|>assistant\n"
    )
    assert t.capabilities == {"tools"}
    assert t.tool_call_prefix == "<tool_call>"


def test_tool_values() -> None:
    t = Template(
        "{{ range .Messages }}{{ end }}{{ range .Tools }}{{ .Type }}|{{ .Function.Name }}|"
        "{{ .Function.Parameters.Required }}|{{ .Function.Parameters.Type }}|"
        "{{ range $k, $v := .Function.Parameters.Properties }}{{ $k }}:{{ $v.Type }}:{{ $v.Description }}:"
        "{{ $v.Enum }};{{ end }}{{ end }}"
    )
    assert t.render([], tools=[WEATHER]) == (
        "function|get_weather|[location]|object|location:string:City:[];unit:[string null]::[c f];"
    )


def test_tools_print_and_marshal_as_json() -> None:
    t = Template("{{ range .Messages }}{{ end }}{{ .Tools }}\n{{ json .Tools }}\n{{ range .Tools }}{{ . }}{{ end }}")
    tool_json = '{"type":"function","function":' + WEATHER_JSON + "}"
    assert t.render([], tools=[WEATHER]) == f"[{tool_json}]\n[{tool_json}]\n{tool_json}"


def test_tools_as_dicts() -> None:
    t = Template("{{ range .Messages }}{{ end }}{{ json .Tools }}")
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
    assert t.render([], tools=[tool]) == (
        '[{"type":"function","function":{"name":"f","description":"","parameters":{"type":"object","properties":{}}}}]'
    )


@pytest.mark.parametrize(
    ("prop", "expected"),
    [  # upstream TestToolParameterToTypeScriptType
        ({"type": "string"}, "string"),
        ({"type": "number"}, "number"),
        ({"type": "integer"}, "number"),
        ({"type": "boolean"}, "boolean"),
        ({"type": "array"}, "any[]"),
        ({"type": "object"}, "Record<string, any>"),
        ({"type": "null"}, "null"),
        ({"type": ["string", "number"]}, "string | number"),
        ({"type": ["string", "null"]}, "string | null"),
        ({"anyOf": [{"type": "string"}, {"type": "number"}]}, "string | number"),
        ({"anyOf": [{"type": ["string", "null"]}, {"type": "number"}]}, "string | null | number"),
        ({"anyOf": [{"type": "boolean"}, {"anyOf": [{"type": "string"}, {"type": "number"}]}]},
         "boolean | string | number"),
        ({"type": []}, "any"),
        ({"type": "unknown_type"}, "any"),
        ({"type": ["string", "array", "null"]}, "string | any[] | null"),
        ({"type": "string", "enum": ["celsius", "fahrenheit"]}, '"celsius" | "fahrenheit"'),
        ({"type": "string", "enum": ['a"b']}, '"a\\"b"'),
        ({"enum": [1, 2.5, True, None]}, "1 | 2.5 | true | null"),
        ({"type": "object", "enum": [{"a": 1}]}, "Record<string, any>"),
        ({"type": "array", "items": {"type": "string", "enum": ["a", "b"]}}, '("a" | "b")[]'),
        ({"type": "array", "items": {"type": "string"}}, "any[]"),
        ({"type": "integer", "enum": [1, 2]}, "1 | 2"),
    ],
)
def test_to_typescript_type(prop: dict[str, Any], expected: str) -> None:
    t = Template(
        "{{ range .Messages }}{{ end }}{{ range .Tools }}{{ range .Function.Parameters.Properties }}"
        "{{ toTypeScriptType . }}{{ end }}{{ end }}"
    )
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"p": prop}}}}
    assert t.render([], tools=[tool]) == expected


def test_to_typescript_type_of_other_values() -> None:
    assert Template('{{ range .Messages }}{{ end }}{{ toTypeScriptType "x" }}').render([]) == "any"


# --- tool-call prefix (upstream tools/template_test.go TestParseTag) ------------------------------------------


@pytest.mark.parametrize(
    ("text", "prefix"),
    [
        ("", "{"),
        ("{{if .ToolCalls}}{{end}}", "{"),
        ("{{if .ToolCalls}}{{range .ToolCalls}}{{ . }}{{end}}{{end}}", "{"),
        ("{{if .ToolCalls}}```json\n{{end}}", "```json"),
        ("{{if .ToolCalls}}[{{range .ToolCalls}}{{ . }}{{end}}]{{end}}", "["),
        ("{{if .ToolCalls}}\n [ {{range .ToolCalls}}{{ . }}{{end}}]{{end}}", "["),
        ("{{if .ToolCalls}}{{range .ToolCalls}}{{ . }}{{end}}]{{end}}", "{"),
        ("{{if .ToolCalls}} {{range .ToolCalls}}{{ . }}{{end}}{{end}}", "{"),
        ("{{if .ToolCalls}}{{range .ToolCalls}}\n{{ . }}\n{{end}}{{end}}", "{"),
        ('{{if .ToolCalls}}{{range .ToolCalls}}{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}'
         "{{end}}{{end}}", "{"),
        ('{{if .ToolCalls}}{{range .ToolCalls}}\n{"name": "{{ .Function.Name }}", "arguments": '
         "{{ .Function.Arguments }}}{{end}}{{end}}", "{"),
        ('{{if .ToolCalls}}{{range .ToolCalls}}\r\n{"name": "{{ .Function.Name }}", "arguments": '
         "{{ .Function.Arguments }}}{{end}}{{end}}", "{"),
        ('{{if .ToolCalls}}\n{{range .ToolCalls}}\n{"name": "{{ .Function.Name }}", "arguments": '
         "{{ .Function.Arguments }}}\r\n{{end}}\r\n{{end}}", "{"),
        ("{{if .ToolCalls}}<|tool▁calls▁begin|>{{range .ToolCalls}}<|tool▁call▁begin|>functionget_current_weather\n"
         '```json\n{"location": "Tokyo"}\n```<|tool▁call▁end|>\n{{end}}<|tool▁calls▁end|>{{end}}',
         "<|tool▁calls▁begin|>"),
        ('{{if .ToolCalls}}{{range .ToolCalls}}<tool_call>{"name": "{{ .Function.Name }}", "arguments": '
         "{{ .Function.Arguments }}}</tool_call>{{end}}{{end}}", "<tool_call>"),
        ('{{if .ToolCalls}}\n{{range .ToolCalls}}<tool_call>{"name": "{{ .Function.Name }}", "arguments": '
         "{{ .Function.Arguments }}}</tool_call>{{end}}{{end}}", "<tool_call>"),
        ('{{if .ToolCalls}}{{range .ToolCalls}}<tool_call>{"name": "{{ .Function.Name }}", "arguments": '
         "{{ .Function.Arguments }}}<tool_call>{{end}}{{end}}", "<tool_call>"),
        ("{{if .ToolCalls}}First text{{if .Something}}inner{{end}}Second text{{end}}", "First text"),
        ("{{if .ToolCalls}}Action: ```json{{end}}", "Action: ```json"),
        ("{{if .ToolCalls}}functools[{{end}}", "functools["),
        ("{{if .ToolCalls}}[TOOL_CALL] [{{end}}", "[TOOL_CALL] ["),
        ("{{if .ToolCalls}}[TOOL_CALL][{{end}}", "[TOOL_CALL]["),
    ],
)
def test_tool_call_prefix(text: str, prefix: str) -> None:
    assert Template(text, kind="go").tool_call_prefix == prefix


# --- thinking tags (upstream thinking/template_test.go TestInferThinkingTags) ---------------------------------

THINK_BASIC = """
			{{ if .Thinking}}
				/think
			{{ end }}
			{{- range $i, $_ := .Messages }}
				{{- $last := eq (len (slice $.Messages $i)) 1 -}}
				{{ if and $last .Thinking }}
					<think>{{ .Thinking }}</think>
				{{ end }}
			{{ end }}
		"""
THINK_NESTED = """
			{{ if .Thinking}}
				/think
			{{ end }}
			{{- range $i, $_ := .Messages }}
				{{- range $j, $_ := .NotMessages }}
					{{- $last := eq (len (slice $.Messages $i)) 1 -}}
					{{ if and $last .Thinking }}
						<think>{{ .Thinking }}</think>
					{{ end }}
				{{ end }}
			{{ end }}
		"""
THINK_TRIMMED = """
			{{ if .Thinking}}
				/think
			{{ end }}
			{{- range $i, $_ := .Messages }}
				{{- $last := eq (len (slice $.Messages $i)) 1 -}}
				{{ if and $last .Thinking }}
					Some text before   {{ .Thinking }}    Some text after
				{{ end }}
			{{ end }}
		"""
QWEN3 = """
{{- if or .System .Tools .Thinking }}<|im_start|>system
{{- if .System }}
{{ .System }}
{{- end }}
{{- if .Tools }}

# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{{- range .Tools }}
{"type": "function", "function": {{ .Function }}}
{{- end }}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call>
{{- end }}
{{- if .Thinking }}
/think
{{- else }}
/no_think
{{- end }}<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 -}}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
{{ if and $last .Thinking }}
<think>{{ .Thinking }}</think>
{{ end }}
{{ if .Content }}{{ .Content }}
{{- else if .ToolCalls }}<tool_call>
{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}
{{ end }}</tool_call>
{{- end }}{{ if not $last }}<|im_end|>
{{ end }}
{{- else if eq .Role "tool" }}<|im_start|>user
<tool_response>
{{ .Content }}
</tool_response><|im_end|>
{{ end }}
{{- if and (ne .Role "assistant") $last }}<|im_start|>assistant
{{ end }}
{{- end }}
			"""


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        (THINK_BASIC, ("<think>", "</think>")),
        (THINK_NESTED, None),
        (THINK_TRIMMED, ("Some text before", "Some text after")),
        (QWEN3, ("<think>", "</think>")),
        ("{{ range .Messages }}{{ .Content }}{{ end }}", None),
    ],
)
def test_thinking_tags(text: str, tags: tuple[str, str] | None) -> None:
    assert Template(text, kind="go").thinking_tags == tags


def test_qwen3_capabilities_and_render() -> None:
    t = Template(QWEN3)
    assert t.capabilities == {"tools", "thinking"}
    rendered = t.render(
        [Message(role="user", content="hi"), Message(role="assistant", content="yo", thinking="hmm")], think=True
    )
    # .Thinking at the top level is not a field of the data: a missing key is false
    assert rendered == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n\n<think>hmm</think>\n\nyo\n\t\t\t"


def test_capabilities_of_plain_templates() -> None:
    assert Template("{{ range .Messages }}{{ .Content }}{{ end }}").capabilities == frozenset()
    assert Template("{{ .Prompt }}{{ .Suffix }}").capabilities == {"insert"}
    assert Template("{{ if $.Tools }}{{ end }}{{ .Prompt }}").capabilities == {"tools"}


def test_template_errors_carry_positions() -> None:
    t = Template("{{ range .Messages }}\n  {{ .Content.Nope }}{{ end }}")
    with pytest.raises(TemplateExecError) as info:
        t.render(msgs(("user", "x")))
    assert str(info.value) == (
        'template: :2:13: executing "" at <.Content.Nope>: can\'t evaluate field Nope in type string'
    )
    assert (info.value.line, info.value.column) == (2, 13)
    assert isinstance(info.value, TemplateError)
