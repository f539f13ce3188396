"""Template: one object for both kinds of prompt template a model can carry.

Go templates (a model's TEMPLATE layer) render exactly as Ollama renders them; Jinja templates (a GGUF's
``tokenizer.chat_template``) render as Hugging Face transformers renders them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from functools import cached_property, lru_cache
from typing import Any, ClassVar, Literal

from ..errors import TemplateError
from . import _inspect
from ._jinja import compile_jinja, jinja_variables, render_jinja, to_jinja_messages, to_jinja_tools
from ._ollama import OllamaValues, execute_ollama, prepare, to_template_messages, to_template_tools
from ._gotemplate import GoTemplate

__all__ = ["DEFAULT_TEMPLATE", "Template", "TemplateKind", "detect_kind"]

TemplateKind = Literal["go", "jinja"]

DEFAULT_TEMPLATE = "{{ .Prompt }}"
"""The template of a model without a TEMPLATE layer (Ollama's template.DefaultTemplate)."""


def _try_go(text: str) -> TemplateError | None:
    try:
        GoTemplate(text)
    except TemplateError as exc:
        return exc
    return None


def _try_jinja(text: str) -> TemplateError | None:
    try:
        compile_jinja(text)
    except TemplateError as exc:
        return exc
    return None


def detect_kind(text: str) -> TemplateKind:
    """"go" or "jinja": Jinja when it has ``{%``/``{#`` tags and parses as Jinja, or fails as Go but not Jinja.

    Raises the parse error of the likelier kind when the text is neither.
    """
    kind, error = _detect(text)
    if error is not None:
        raise copy.copy(error) from None
    return kind  # type: ignore[return-value]


@lru_cache(maxsize=256)
def _detect(text: str) -> tuple[TemplateKind | None, TemplateError | None]:
    markers = "{%" in text or "{#" in text
    go_error = _try_go(text)
    if go_error is None and not markers:
        return "go", None
    jinja_error = _try_jinja(text)
    if jinja_error is None and (markers or go_error is not None):
        return "jinja", None
    if go_error is None and "{{" in text:
        return "go", None
    return None, (jinja_error if markers and jinja_error is not None else go_error)


def _think_values(think: bool | str | None, think_level: str | None) -> tuple[bool, str, bool]:
    """(Think, ThinkLevel, IsThinkSet) as Ollama derives them from a request's ``think``."""
    if think is None:
        if think_level is None:
            return False, "", False
        think = think_level
    if isinstance(think, str):
        return True, think_level if think_level is not None else think, True
    level = think_level if think_level is not None else ("medium" if think else "")
    return bool(think), level, True


class Template:
    """A prompt template, Go (Ollama) or Jinja (GGUF), parsed once and rendered many times.

    >>> Template("{{ range .Messages }}<|{{ .Role }}|>{{ .Content }}{{ end }}<|assistant|>").render(
    ...     [{"role": "user", "content": "Hi"}])
    '<|user|>Hi<|assistant|>'
    """

    DEFAULT: ClassVar[str] = DEFAULT_TEMPLATE

    def __init__(self, text: str = DEFAULT_TEMPLATE, *, kind: TemplateKind | None = None) -> None:
        if kind not in (None, "go", "jinja"):
            raise ValueError(f"unknown template kind: {kind!r}")
        self.text = text
        self.kind: TemplateKind = kind or detect_kind(text)
        self._go: GoTemplate | None = None
        self._vars: list[str] = []
        if self.kind == "go":
            self._go, self._vars = prepare(GoTemplate(text))
        else:
            self._jinja = compile_jinja(text)

    @classmethod
    def default(cls) -> Template:
        """The default template, ``{{ .Prompt }}``."""
        return cls(DEFAULT_TEMPLATE, kind="go")

    def __repr__(self) -> str:
        return f"Template({self.text!r}, kind={self.kind!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Template) and other.text == self.text and other.kind == self.kind

    def __hash__(self) -> int:
        return hash((self.text, self.kind))

    # --- introspection -----------------------------------------------------------------------------------

    @property
    def variables(self) -> list[str]:
        """Go: Ollama's Vars() (lower-cased names used); Jinja: the undeclared variables, sorted."""
        if self._go is not None:
            return list(self._vars)
        return sorted(jinja_variables(self.text))

    @property
    def go(self) -> GoTemplate | None:
        """The underlying GoTemplate (None for Jinja templates)."""
        return self._go

    @cached_property
    def thinking_tags(self) -> tuple[str, str] | None:
        """The tags around thinking text, e.g. ("<think>", "</think>"), or None when none is inferred."""
        if self._go is not None:
            opening, closing = _inspect.go_thinking_tags(self._go.root)
            return (opening, closing) if opening and closing else None
        return _inspect.jinja_thinking_tags(self.text)

    @cached_property
    def tool_call_prefix(self) -> str:
        """The text a model writes before tool calls (``<tool_call>``, ``[TOOL_CALLS]``), else "{"."""
        if self._go is not None:
            return _inspect.go_tool_call_prefix(self._go.root)
        return _inspect.jinja_tool_call_prefix(self.text)

    @cached_property
    def capabilities(self) -> frozenset[str]:
        """What the template supports, of {"tools", "insert", "thinking"} (Ollama's template checks)."""
        caps: set[str] = set()
        if self._go is not None:
            if "tools" in self._vars:
                caps.add("tools")
            if "suffix" in self._vars:
                caps.add("insert")
        else:
            names = jinja_variables(self.text)
            if "tools" in names:
                caps.add("tools")
            if "suffix" in names:
                caps.add("insert")
            if _inspect.jinja_mentions_thinking(self.text) and self.thinking_tags is not None:
                caps.add("thinking")
        if self._go is not None and self.thinking_tags is not None:
            caps.add("thinking")
        return frozenset(caps)

    # --- rendering ---------------------------------------------------------------------------------------

    def render(
        self,
        messages: Sequence[Any] | None = None,
        *,
        system: str | None = None,
        tools: Iterable[Any] | None = None,
        think: bool | str | None = None,
        think_level: str | None = None,
        suffix: str | None = None,
        prompt: str | None = None,
        add_generation_prompt: bool = True,
        bos_token: str = "",
        eos_token: str = "",
    ) -> str:
        """The prompt for these messages (ollamalib.types.Message or dicts) and tools.

        ``system`` is put first as a system message; ``prompt`` is appended as a user message, or, with a
        non-empty ``suffix``, renders Ollama's fill-in-the-middle form (``.Prompt``/``.Suffix`` only).
        ``think`` is a bool or a level ("low", "medium", "high"); unset leaves ``.IsThinkSet`` false.
        ``add_generation_prompt``, ``bos_token`` and ``eos_token`` matter to Jinja templates only.
        """
        msgs: list[Any] = list(messages or ())
        if system is not None:
            msgs.insert(0, {"role": "system", "content": system})
        fim = bool(prompt) and bool(suffix)
        if prompt is not None and not fim:
            msgs.append({"role": "user", "content": prompt})
        tool_list = list(tools) if tools is not None else None
        is_think, level, think_set = _think_values(think, think_level)

        if self._go is not None:
            values = OllamaValues(
                to_template_messages(msgs),
                to_template_tools(tool_list),
                prompt=(prompt or "") if fim else "",
                suffix=(suffix or "") if fim else "",
                think=is_think,
                think_level=level,
                is_think_set=think_set,
            )
            return execute_ollama(self._go, self._vars, values)

        context: dict[str, Any] = {
            "messages": to_jinja_messages(msgs),
            "tools": to_jinja_tools(tool_list),
            "documents": None,
            "add_generation_prompt": add_generation_prompt,
            "bos_token": bos_token,
            "eos_token": eos_token,
        }
        if think_set:
            context["enable_thinking"] = is_think
            if level:
                context["reasoning_effort"] = level
        if suffix is not None:
            context["suffix"] = suffix
        if fim:
            context["prompt"] = prompt
        return render_jinja(self._jinja, context)
