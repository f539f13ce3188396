"""What a template tells about a model: thinking tags, the tool-call prefix, capability hints.

Go templates use Ollama's heuristics (thinking/template.go ``InferTags``, tools/template.go
``parseTag``); Jinja templates use text heuristics over well-known model formats.
"""

from __future__ import annotations

import re

from .._go.fmt import go_trim_space
from ._gonodes import (
    ActionNode,
    BranchNode,
    CommandNode,
    FieldNode,
    IfNode,
    ListNode,
    Node,
    PipeNode,
    RangeNode,
    TemplateNode,
    TextNode,
    WithNode,
)

__all__ = ["go_thinking_tags", "go_tool_call_prefix", "jinja_thinking_tags", "jinja_tool_call_prefix"]


# --- Go: thinking tags ----------------------------------------------------------------------------------


def _children(n: Node) -> list[Node]:
    if isinstance(n, ListNode):
        return list(n.nodes)
    if isinstance(n, BranchNode):
        out: list[Node] = [n.pipe, n.list]
        if n.else_list is not None:
            out.append(n.else_list)
        return out
    if isinstance(n, (ActionNode, TemplateNode)):
        return [n.pipe] if n.pipe is not None else []
    if isinstance(n, PipeNode):
        return list(n.cmds)
    if isinstance(n, CommandNode):
        return list(n.args)
    return []


def _range_uses_field(r: RangeNode, field: str) -> bool:
    found = False

    def visit(n: Node) -> None:
        nonlocal found
        if isinstance(n, FieldNode) and n.ident[0] == field:
            found = True
        for c in _children(n):
            visit(c)

    visit(r.pipe)
    return found


def go_thinking_tags(root: ListNode) -> tuple[str, str]:
    """Ollama's InferTags: the text around ``{{ .Thinking }}`` inside ``range .Messages`` ("" when none)."""
    opening = closing = ""
    ancestors: list[Node] = []

    def visit(n: Node) -> None:
        nonlocal opening, closing
        ancestors.append(n)
        if isinstance(n, FieldNode) and n.ident and n.ident[0] == "Thinking":
            recent = next((a for a in reversed(ancestors) if isinstance(a, RangeNode)), None)
            if recent is not None and _range_uses_field(recent, "Messages"):
                lst = next((a for a in reversed(ancestors) if isinstance(a, ListNode)), None)
                if lst is not None and lst.nodes:
                    if isinstance(lst.nodes[0], TextNode):
                        opening = go_trim_space(lst.nodes[0].text)
                    if isinstance(lst.nodes[-1], TextNode):
                        closing = go_trim_space(lst.nodes[-1].text)
        for c in _children(n):
            visit(c)
        ancestors.pop()

    visit(root)
    return opening, closing


# --- Go: tool-call prefix -------------------------------------------------------------------------------


def _is_tool_calls_if(n: IfNode) -> bool:
    return any(
        isinstance(arg, FieldNode) and "ToolCalls" in arg.ident for cmd in n.pipe.cmds for arg in cmd.args
    )


def _find_tool_call_node(nodes: list[Node]) -> IfNode | None:
    for n in nodes:
        if isinstance(n, IfNode):
            if _is_tool_calls_if(n):
                return n
            found = _find_tool_call_node(n.list.nodes)
            if found is None and n.else_list is not None:
                found = _find_tool_call_node(n.else_list.nodes)
            if found is not None:
                return found
        elif isinstance(n, ListNode):
            found = _find_tool_call_node(n.nodes)
            if found is not None:
                return found
        elif isinstance(n, (RangeNode, WithNode)):
            found = _find_tool_call_node(n.list.nodes)
            if found is None and n.else_list is not None:
                found = _find_tool_call_node(n.else_list.nodes)
            if found is not None:
                return found
    return None


def _find_text_node(nodes: list[Node]) -> TextNode | None:
    for n in nodes:
        if isinstance(n, TextNode):
            if go_trim_space(n.text) == "":
                continue
            return n
        if isinstance(n, (IfNode, RangeNode, WithNode)):
            found = _find_text_node(n.list.nodes)
            if found is None and n.else_list is not None:
                found = _find_text_node(n.else_list.nodes)
            return found
        if isinstance(n, ListNode):
            found = _find_text_node(n.nodes)
            if found is not None:
                return found
        if isinstance(n, ActionNode):
            return None
    return None


def go_tool_call_prefix(root: ListNode | None) -> str:
    """Ollama's parseTag: the first literal text inside ``{{ if .ToolCalls }}``, up to any ``{``; else "{"."""
    if root is None:
        return "{"
    tc = _find_tool_call_node(root.nodes)
    if tc is None:
        return "{"
    tn = _find_text_node(tc.list.nodes)
    if tn is None:
        return "{"
    tag = tn.text.replace("\r\n", "\n")
    tag = tag.split("{", 1)[0]
    tag = go_trim_space(tag)
    return tag or "{"


# --- Jinja heuristics -----------------------------------------------------------------------------------

_THINK_PAIRS = (
    ("<think>", "</think>"),
    ("<thinking>", "</thinking>"),
    ("<|begin_of_thought|>", "<|end_of_thought|>"),
    ("<seed:think>", "</seed:think>"),
    ("<|START_THINKING|>", "<|END_THINKING|>"),
)

_TOOL_TAGS = (
    "<tool_call>",
    "[TOOL_CALLS]",
    "<|tool_call_start|>",
    "<|tool_calls_section_begin|>",
    "<|tool▁calls▁begin|>",
    "<start_function_call>",
    "<|python_tag|>",
    "<function_call>",
    "<|tool_call|>",
    "functools[",
    "<tool_calls>",
)


def jinja_thinking_tags(text: str) -> tuple[str, str] | None:
    """The first well-known pair of thinking tags a Jinja template writes, if any."""
    best: tuple[int, tuple[str, str]] | None = None
    for pair in _THINK_PAIRS:
        i = text.find(pair[0])
        if i >= 0 and pair[1] in text and (best is None or i < best[0]):
            best = (i, pair)
    return best[1] if best else None


def jinja_tool_call_prefix(text: str) -> str:
    """The tag a Jinja template writes before tool calls (the earliest well-known one), else "{"."""
    best: tuple[int, str] | None = None
    for tag in _TOOL_TAGS:
        i = text.find(tag)
        if i >= 0 and (best is None or i < best[0]):
            best = (i, tag)
    return best[1] if best else "{"


_JINJA_THINKING = re.compile(r"reasoning_content|enable_thinking|\bthinking\b|<think>|reasoning_effort")


def jinja_mentions_thinking(text: str) -> bool:
    return bool(_JINJA_THINKING.search(text))
