"""GoTemplate: Go's text/template in pure Python, with Ollama's template functions.

    >>> GoTemplate('{{ range $i, $m := .Messages }}{{ if $i }}, {{ end }}{{ $m }}{{ end }}').execute(
    ...     {"Messages": ["a", "b"]})
    'a, b'

Parsing follows text/template/parse and execution text/template/exec, so whitespace trimming, range
order over maps, number formatting, nil handling and error texts are Go's. Parse results are cached.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, Literal

from ._goexec import execute
from ._gofuncs import BUILTINS, OLLAMA_FUNCS, GoFunc, python_func
from ._gonodes import (
    ActionNode,
    BranchNode,
    CommandNode,
    FieldNode,
    ListNode,
    Node,
    PipeNode,
    Source,
    TemplateNode,
    VariableNode,
)
from ._goparse import parse_template

__all__ = ["GoTemplate", "MissingKey", "identifiers"]

MissingKey = Literal["zero", "default", "invalid", "error"]


@lru_cache(maxsize=256)
def _parse_cached(text: str, funcs: frozenset[str], name: str) -> tuple[Source, dict[str, ListNode]]:
    return parse_template(text, funcs, name)


def identifiers(node: Node | None) -> list[str]:
    """Ollama's template.Identifiers: field and variable names used in a node (not in chains)."""
    if node is None:
        return []
    if isinstance(node, ListNode):
        out: list[str] = []
        for n in node.nodes:
            out.extend(identifiers(n))
        return out
    if isinstance(node, (TemplateNode, ActionNode)):
        return identifiers(node.pipe)
    if isinstance(node, BranchNode):
        out = identifiers(node.pipe)
        out.extend(identifiers(node.list))
        if node.else_list is not None:
            out.extend(identifiers(node.else_list))
        return out
    if isinstance(node, PipeNode):
        out = []
        for cmd in node.cmds:
            for arg in cmd.args:
                out.extend(identifiers(arg))
        return out
    if isinstance(node, (FieldNode, VariableNode)):
        return list(node.ident)
    return []


class GoTemplate:
    """A parsed Go template plus the functions it may call.

    ``funcs`` adds Python callables (called with the evaluated arguments; an exception becomes the
    template's ``error calling <name>: ...``). ``ollama`` adds Ollama's ``json``, ``currentDate``,
    ``yesterdayDate`` and ``toTypeScriptType``. ``missingkey`` is Go's option: ``zero`` (Ollama's
    choice), ``default``/``invalid`` or ``error``.
    """

    __slots__ = ("_funcs", "missingkey", "name", "source", "text", "trees")

    def __init__(
        self,
        text: str,
        *,
        name: str = "",
        funcs: Mapping[str, Callable[..., Any]] | None = None,
        ollama: bool = True,
        missingkey: MissingKey = "zero",
    ) -> None:
        table: dict[str, GoFunc] = dict(OLLAMA_FUNCS) if ollama else {}
        for fname, fn in (funcs or {}).items():
            table[fname] = fn if isinstance(fn, GoFunc) else python_func(fname, fn)
        self._funcs = table
        self.text = text
        self.name = name
        self.missingkey = "default" if missingkey == "invalid" else missingkey
        self.source, trees = _parse_cached(text, frozenset(BUILTINS) | frozenset(table), name)
        self.trees: dict[str, ListNode] = dict(trees)

    @property
    def root(self) -> ListNode:
        """The main template's tree."""
        return self.trees[self.name]

    @property
    def funcs(self) -> Mapping[str, GoFunc]:
        return self._funcs

    def identifiers(self) -> list[str]:
        """Ollama's Template.Vars(): every field/variable name in all trees, lower-cased, sorted, unique."""
        names: set[str] = set()
        for tree in self.trees.values():
            for node in tree.nodes:
                names.update(n.lower() for n in identifiers(node))
        return sorted(names)

    def execute(self, data: Any = None, *, name: str | None = None) -> str:
        """Render the main template (or the defined template ``name``) with ``data`` as dot."""
        return execute(
            self.source,
            self.trees,
            self.name if name is None else name,
            data,
            funcs=self._funcs,
            missingkey=self.missingkey,
        )

    def execute_tree(self, root: ListNode, data: Any, *, funcs: bool = True, missingkey: str | None = None) -> str:
        """Run another tree parsed from this template's text (Ollama's legacy last-turn execution)."""
        return execute(
            self.source,
            {self.name: root},
            self.name,
            data,
            funcs=self._funcs if funcs else {},
            missingkey=self.missingkey if missingkey is None else missingkey,
        )

    def __repr__(self) -> str:
        return f"GoTemplate({self.text!r})"


def response_action() -> ActionNode:
    """The ``{{ .Response }}`` node Ollama appends to templates that use neither Messages nor Response."""
    pipe = PipeNode(0, 0)
    pipe.cmds.append(CommandNode(0, [FieldNode(0, ["Response"])]))
    return ActionNode(0, 0, pipe)
