"""Ollama's own template test data: every named Go template renders each conversation byte for byte,
and every real Jinja template from a GGUF is matched to its named template.

The data lives in ``../shared/conformance/ollama-templates`` beside the checkout and is never copied here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ollamalib.template import Template, load_named_templates, match_named_template
from ollamalib.types import Message, Tool, ToolCall, ToolCallFunction, ToolFunction

REPO = Path(__file__).resolve().parents[2]
CONFORMANCE = (REPO / ".." / "shared" / "conformance" / "ollama-templates").resolve()
MISSING = f"Ollama conformance data not found at {CONFORMANCE}"

USER = {"role": "user", "content": "Hello, how are you?"}
ASSISTANT = {"role": "assistant", "content": "I'm doing great. How can I help you today?"}
USER2 = {"role": "user", "content": "I'd like to show off how chat templating works!"}
SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
CONVERSATIONS = {
    "user": [USER],
    "user-assistant-user": [USER, ASSISTANT, USER2],
    "system-user-assistant-user": [SYSTEM, USER, ASSISTANT, USER2],
}
# the reference drops one trailing space from these renderings before comparing (README)
TRAILING_SPACE_QUIRK = {"chatqa", "llama2-chat", "mistral-instruct", "openchat", "vicuna"}


def _render_cases() -> list[tuple[str, str]]:
    if not CONFORMANCE.is_dir():
        return []
    cases = []
    for tmpl in sorted(CONFORMANCE.glob("*.gotmpl")):
        for case in sorted((CONFORMANCE / "testdata" / tmpl.name).iterdir()):
            cases.append((tmpl.stem, case.name))
    return cases


def _jsonl_cases() -> list[tuple[int, str, str]]:
    path = CONFORMANCE / "testdata" / "templates.jsonl"
    if not path.is_file():
        return []
    out = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        for name, jinja in json.loads(line).items():
            out.append((i, name, jinja))
    return out


RENDER_CASES = _render_cases()
JSONL_CASES = _jsonl_cases()


@pytest.mark.skipif(not RENDER_CASES, reason=MISSING)
@pytest.mark.parametrize(("name", "case"), RENDER_CASES or [("-", "-")])
def test_named_template_renders_exactly(name: str, case: str) -> None:
    text = (CONFORMANCE / f"{name}.gotmpl").read_text(encoding="utf-8")
    expected = (CONFORMANCE / "testdata" / f"{name}.gotmpl" / case).read_bytes().decode("utf-8")
    template = Template(text)
    assert template.kind == "go"
    rendered = template.render([dict(m) for m in CONVERSATIONS[case]])
    if name in TRAILING_SPACE_QUIRK and rendered.endswith(" "):
        rendered = rendered[:-1]
    assert rendered == expected


@pytest.mark.skipif(not RENDER_CASES, reason=MISSING)
@pytest.mark.parametrize(("name", "case"), RENDER_CASES or [("-", "-")])
def test_named_template_renders_pydantic_messages_the_same(name: str, case: str) -> None:
    template = Template((CONFORMANCE / f"{name}.gotmpl").read_text(encoding="utf-8"))
    as_dicts = template.render([dict(m) for m in CONVERSATIONS[case]])
    as_models = template.render([Message(**m) for m in CONVERSATIONS[case]])
    assert as_models == as_dicts


@pytest.mark.skipif(not JSONL_CASES, reason=MISSING)
@pytest.mark.parametrize(("line", "name", "jinja"), JSONL_CASES or [(0, "-", "-")])
def test_gguf_jinja_template_matches_its_named_template(line: int, name: str, jinja: str) -> None:
    named = match_named_template(jinja, CONFORMANCE)
    assert named is not None, f"line {line}: no named template matched"
    assert named.name == name
    assert named.template == (CONFORMANCE / f"{name}.gotmpl").read_text(encoding="utf-8").replace("\r\n", "\n")
    assert Template(named.template).kind == "go"
    # the Jinja text itself is a valid Jinja template
    assert Template(jinja).kind == "jinja"


@pytest.mark.skipif(not CONFORMANCE.is_dir(), reason=MISSING)
def test_named_templates_carry_their_parameters() -> None:
    templates = {t.name: t for t in load_named_templates(CONFORMANCE)}
    assert templates["chatml"].stop == ["<|im_start|>", "<|im_end|>"]
    assert templates["gemma3-instruct"].parameters["temperature"] == 0.1
    assert templates["llama3-instruct"].stop == ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]


@pytest.mark.skipif(not CONFORMANCE.is_dir(), reason=MISSING)
def test_unrelated_jinja_matches_nothing() -> None:
    assert match_named_template("{{ messages }} something else entirely " * 20, CONFORMANCE) is None
    assert match_named_template("", CONFORMANCE) is None


@pytest.mark.skipif(not CONFORMANCE.is_dir(), reason=MISSING)
def test_match_is_fast() -> None:
    import time

    start = time.perf_counter()
    for _, _, jinja in JSONL_CASES:
        match_named_template(jinja + "{# an edit #}", CONFORMANCE)
    assert time.perf_counter() - start < 5


# --- command-r with tools (Ollama's template/testdata/command-r.gotmpl/tools-*) ---------------------------

WEATHER = Tool(
    function=ToolFunction(
        name="get_weather",
        description="Get current weather information for a location",
        parameters={
            "type": "object",
            "required": ["location"],
            "properties": {
                "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                "unit": {
                    "type": "string",
                    "enum": ["celsius", "fahrenheit"],
                    "description": "The unit of temperature to use",
                },
            },
        },
    )
)

COMMAND_R_TOOLS = (
    "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|># Safety Preamble\nThe instructions in this section override those in"
    " the task description and style guide sections. Don't answer questions that are harmful or immoral.\n\n"
    "# System Preamble\n## Basic Rules\nYou are a powerful conversational AI trained by Cohere to help people. You"
    " are augmented by a number of tools, and your job is to use and consume the output of these tools to best"
    " help the user. You will see a conversation history between yourself and a user, ending with an utterance"
    " from the user. You will then see a specific instruction instructing you what kind of response to generate."
    " When you answer the user's requests, you cite your sources in your answers, according to those"
    " instructions.\n\n\n\n## Available Tools\nHere is a list of tools that you have available to you:\n\n"
    "```python\ndef get_weather(location: string, unit: string, ) -> List[Dict]:\n"
    "    '''Get current weather information for a location\n\n    Args:\n"
    "        location (string): The city and state, e.g. San Francisco, CA\n"
    "        unit (string): The unit of temperature to use\n    '''\n    pass\n```"
    "<|END_OF_TURN_TOKEN|><|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>\n"
)
COMMAND_R_CALL = (
    "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>\nAction: ```json\n[\n    {\n"
    '        "tool_name": "get_weather",\n        "parameters": {"location":"San Francisco, CA"}\n    }\n]```'
    "<|END_OF_TURN_TOKEN|><|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>\n"
)
COMMAND_R_RESULT = (
    "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|><results>\n"
    'console_output: {"temperature": 22, "condition": "Sunny", "humidity": 45, "wind_speed": 10}\n'
    "</results><|END_OF_TURN_TOKEN|><|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>\n"
)


@pytest.fixture(scope="module")
def command_r() -> Template:
    path = CONFORMANCE / "command-r.gotmpl"
    if not path.is_file():
        pytest.skip(MISSING)
    return Template(path.read_text(encoding="utf-8"))


def test_command_r_tool_definitions(command_r: Template) -> None:
    assert command_r.render([], tools=[WEATHER]) == COMMAND_R_TOOLS


def test_command_r_tool_call(command_r: Template) -> None:
    call = ToolCall(function=ToolCallFunction(name="get_weather", arguments={"location": "San Francisco, CA"}))
    assert command_r.render([Message(role="assistant", content="", tool_calls=[call])]) == COMMAND_R_CALL


def test_command_r_tool_result(command_r: Template) -> None:
    content = '{"temperature": 22, "condition": "Sunny", "humidity": 45, "wind_speed": 10}'
    assert command_r.render([{"role": "tool", "content": content}]) == COMMAND_R_RESULT


def test_command_r_hints(command_r: Template) -> None:
    assert command_r.capabilities == {"tools"}
    assert command_r.tool_call_prefix == "Action: ```json\n["
    assert command_r.thinking_tags is None
