"""Time to render a 50-message conversation with ollamalib's templates (target: under 5 ms).

Run: ``python benchmarks/template.py``. Prints the median render time per template; parsing is cached,
so the numbers are what every chat request pays. Not a timed test: nothing here asserts.
"""

from __future__ import annotations

import statistics
import time

from _common import GEMMA3_TEMPLATE as GEMMA3

from ollamalib.template import Template
from ollamalib.types import Message, Tool, ToolFunction

CHATML = """{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
"""

QWEN_TOOLS = """{{- if or .System .Tools }}<|im_start|>system
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

JINJA_CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def conversation(n: int = 50) -> list[Message]:
    msgs = [Message(role="system", content="You are a helpful assistant.")]
    for i in range(n - 1):
        role = "user" if i % 2 == 0 else "assistant"
        msgs.append(Message(role=role, content=f"Message {i}: some text that a conversation would carry along."))
    return msgs


def bench(name: str, template: Template, **kwargs: object) -> float:
    msgs = conversation()
    template.render(msgs, **kwargs)  # warm up
    samples = []
    for _ in range(200):
        start = time.perf_counter()
        template.render(msgs, **kwargs)
        samples.append(time.perf_counter() - start)
    ms = statistics.median(samples) * 1000
    print(f"{name:<28} {ms:7.3f} ms per 50-message render")
    return ms


def main() -> None:
    tool = Tool(function=ToolFunction(name="get_weather", description="Get the weather", parameters={
        "type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}))
    results = [
        bench("go: chatml", Template(CHATML)),
        bench("go: gemma3 (slice/len)", Template(GEMMA3)),
        bench("go: qwen2.5 + tools", Template(QWEN_TOOLS), tools=[tool]),
        bench("jinja: chatml", Template(JINJA_CHATML)),
    ]
    verdict = "under" if max(results) < 5 else "OVER"
    print(f"slowest: {max(results):.3f} ms ({verdict} the 5 ms target)")


if __name__ == "__main__":
    main()
