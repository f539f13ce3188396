"""Engine fixtures: an Engine on a temporary store, and tiny real models created into it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gguf_factory import CHATML_TEMPLATE, write_tiny_gguf

from ollamalib.config import Settings
from ollamalib.engine import Engine

# A Go template in Ollama's style with tools, thinking and insert support (like qwen3's, much shorter).
GO_TEMPLATE = """{{- if .Suffix }}<|fim_prefix|>{{ .Prompt }}<|fim_suffix|>{{ .Suffix }}<|fim_middle|>
{{- else }}
{{- if .Tools }}<|im_start|>system
Tools: {{ range .Tools }}{{ json .Function }}{{ end }}<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 -}}
<|im_start|>{{ .Role }}
{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}
{{- if .Content }}{{ .Content }}{{ end }}
{{- if .ToolCalls }}<tool_call>
{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}
{{ end }}</tool_call>{{ end }}
{{- if not $last }}<|im_end|>
{{ end }}
{{- if and $last (ne .Role "assistant") }}<|im_end|>
<|im_start|>assistant
{{ end }}
{{- end }}
{{- end }}"""


@pytest.fixture
def go_template() -> str:
    """A Go template with tools, thinking and insert support."""
    return GO_TEMPLATE


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = Engine(settings)
    try:
        yield eng
    finally:
        eng.close()


@pytest.fixture(scope="session")
def gguf_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("engine-gguf")


@pytest.fixture(scope="session")
def scripted_gguf(gguf_dir: Path) -> Callable[..., Path]:
    """A tiny model that answers any prompt with exactly ``script`` (then end of sequence); cached per script."""
    cache: dict[tuple, Path] = {}

    def make(script: str, **kw) -> Path:
        key = (script, tuple(sorted(kw.items())))
        if key not in cache:
            n_embd = 64
            while len(script.encode()) + 1 > n_embd:
                n_embd *= 2
            path = gguf_dir / f"scripted-{len(cache)}.gguf"
            cache[key] = write_tiny_gguf(path, script=script, n_embd=n_embd, chat_template=CHATML_TEMPLATE, **kw)
        return cache[key]

    return make


@pytest.fixture
def tiny(engine: Engine, tiny_gguf: Path) -> str:
    """The random-weights tiny chat model (ChatML Jinja template from its GGUF), as ``tiny:latest``."""
    engine.create("tiny", from_=str(tiny_gguf))
    return "tiny"


@pytest.fixture
def scripted(engine: Engine, scripted_gguf: Callable[..., Path]) -> Callable[..., str]:
    """Create a model named ``name`` that always answers ``script``; extra create() arguments pass through."""

    def make(script: str, name: str = "scripted", **create_kw) -> str:
        engine.create(name, from_=str(scripted_gguf(script)), **create_kw)
        return name

    return make
