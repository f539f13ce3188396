"""Parse-tree nodes of Go's text/template (text/template/parse/node.go).

Each node keeps its position in the source text; ``str(node)`` is Go's ``String()``, which error
messages quote (``executing "" at <.Messages.X>``).
"""

from __future__ import annotations

from .._go.fmt import go_trim_space
from .._go.strconv import go_quote

__all__ = [
    "ActionNode",
    "BoolNode",
    "BranchNode",
    "BreakNode",
    "ChainNode",
    "CommandNode",
    "CommentNode",
    "ContinueNode",
    "DotNode",
    "ElseNode",
    "EndNode",
    "FieldNode",
    "IdentifierNode",
    "IfNode",
    "ListNode",
    "NilNode",
    "Node",
    "NumberNode",
    "PipeNode",
    "RangeNode",
    "Source",
    "StringNode",
    "TemplateNode",
    "TextNode",
    "VariableNode",
    "WithNode",
    "is_empty_tree",
]


class Source:
    """The text a set of trees was parsed from and its name (Go's Tree.text and ParseName)."""

    __slots__ = ("name", "text")

    def __init__(self, text: str, name: str = "") -> None:
        self.text = text
        self.name = name

    def line_col(self, pos: int) -> tuple[int, int]:
        """Go's 1-based line and 0-based byte column of a position (as in ErrorContext)."""
        text = self.text
        start = text.rfind("\n", 0, pos) + 1
        segment = text[start:pos]
        col = len(segment) if segment.isascii() else len(segment.encode("utf-8", "surrogatepass"))
        return text.count("\n", 0, pos) + 1, col

    def line(self, pos: int) -> int:
        return self.text.count("\n", 0, pos) + 1


class Node:
    __slots__ = ("pos",)

    def __init__(self, pos: int) -> None:
        self.pos = pos

    def copy(self) -> Node:
        raise NotImplementedError


class ListNode(Node):
    __slots__ = ("nodes",)

    def __init__(self, pos: int, nodes: list[Node] | None = None) -> None:
        super().__init__(pos)
        self.nodes: list[Node] = nodes if nodes is not None else []

    def __str__(self) -> str:
        return "".join(str(n) for n in self.nodes)

    def copy(self) -> ListNode:
        return ListNode(self.pos, [n.copy() for n in self.nodes])


class TextNode(Node):
    __slots__ = ("text",)

    def __init__(self, pos: int, text: str) -> None:
        super().__init__(pos)
        self.text = text

    def __str__(self) -> str:
        return self.text

    def copy(self) -> TextNode:
        return TextNode(self.pos, self.text)


class CommentNode(Node):
    __slots__ = ("text",)

    def __init__(self, pos: int, text: str) -> None:
        super().__init__(pos)
        self.text = text

    def __str__(self) -> str:
        return "{{" + self.text + "}}"

    def copy(self) -> CommentNode:
        return CommentNode(self.pos, self.text)


class PipeNode(Node):
    __slots__ = ("cmds", "decl", "is_assign", "line")

    def __init__(self, pos: int, line: int, decl: list[VariableNode] | None = None) -> None:
        super().__init__(pos)
        self.line = line
        self.is_assign = False
        self.decl: list[VariableNode] = decl if decl is not None else []
        self.cmds: list[CommandNode] = []

    def __str__(self) -> str:
        out = ""
        if self.decl:
            out = ", ".join(str(v) for v in self.decl) + " := "
        return out + " | ".join(str(c) for c in self.cmds)

    def copy(self) -> PipeNode:
        p = PipeNode(self.pos, self.line, [v.copy() for v in self.decl])
        p.is_assign = self.is_assign
        p.cmds = [c.copy() for c in self.cmds]
        return p


class ActionNode(Node):
    __slots__ = ("line", "pipe")

    def __init__(self, pos: int, line: int, pipe: PipeNode) -> None:
        super().__init__(pos)
        self.line = line
        self.pipe = pipe

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"

    def copy(self) -> ActionNode:
        return ActionNode(self.pos, self.line, self.pipe.copy())


class CommandNode(Node):
    __slots__ = ("args",)

    def __init__(self, pos: int, args: list[Node] | None = None) -> None:
        super().__init__(pos)
        self.args: list[Node] = args if args is not None else []

    def __str__(self) -> str:
        return " ".join(f"({a})" if isinstance(a, PipeNode) else str(a) for a in self.args)

    def copy(self) -> CommandNode:
        return CommandNode(self.pos, [a.copy() for a in self.args])


class IdentifierNode(Node):
    __slots__ = ("ident",)

    def __init__(self, pos: int, ident: str) -> None:
        super().__init__(pos)
        self.ident = ident

    def __str__(self) -> str:
        return self.ident

    def copy(self) -> IdentifierNode:
        return IdentifierNode(self.pos, self.ident)


class VariableNode(Node):
    __slots__ = ("ident",)

    def __init__(self, pos: int, ident: str | list[str]) -> None:
        super().__init__(pos)
        self.ident: list[str] = ident.split(".") if isinstance(ident, str) else ident

    def __str__(self) -> str:
        return ".".join(self.ident)

    def copy(self) -> VariableNode:
        return VariableNode(self.pos, list(self.ident))


class DotNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "."

    def copy(self) -> DotNode:
        return DotNode(self.pos)


class NilNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "nil"

    def copy(self) -> NilNode:
        return NilNode(self.pos)


class FieldNode(Node):
    __slots__ = ("ident",)

    def __init__(self, pos: int, ident: str | list[str]) -> None:
        super().__init__(pos)
        self.ident: list[str] = ident[1:].split(".") if isinstance(ident, str) else ident

    def __str__(self) -> str:
        return "".join("." + i for i in self.ident)

    def copy(self) -> FieldNode:
        return FieldNode(self.pos, list(self.ident))


class ChainNode(Node):
    __slots__ = ("field", "node")

    def __init__(self, pos: int, node: Node) -> None:
        super().__init__(pos)
        self.node = node
        self.field: list[str] = []

    def add(self, field: str) -> None:
        self.field.append(field[1:])

    def __str__(self) -> str:
        head = f"({self.node})" if isinstance(self.node, PipeNode) else str(self.node)
        return head + "".join("." + f for f in self.field)

    def copy(self) -> ChainNode:
        c = ChainNode(self.pos, self.node)
        c.field = list(self.field)
        return c


class BoolNode(Node):
    __slots__ = ("true",)

    def __init__(self, pos: int, true: bool) -> None:
        super().__init__(pos)
        self.true = true

    def __str__(self) -> str:
        return "true" if self.true else "false"

    def copy(self) -> BoolNode:
        return BoolNode(self.pos, self.true)


class NumberNode(Node):
    __slots__ = ("complex128", "float64", "int64", "is_complex", "is_float", "is_int", "is_uint", "text", "uint64")

    def __init__(self, pos: int, text: str) -> None:
        super().__init__(pos)
        self.text = text
        self.is_int = self.is_uint = self.is_float = self.is_complex = False
        self.int64 = 0
        self.uint64 = 0
        self.float64 = 0.0
        self.complex128 = 0j

    def __str__(self) -> str:
        return self.text

    def copy(self) -> NumberNode:
        n = NumberNode(self.pos, self.text)
        for name in ("is_int", "is_uint", "is_float", "is_complex", "int64", "uint64", "float64", "complex128"):
            setattr(n, name, getattr(self, name))
        return n


class StringNode(Node):
    __slots__ = ("quoted", "text")

    def __init__(self, pos: int, quoted: str, text: str) -> None:
        super().__init__(pos)
        self.quoted = quoted
        self.text = text

    def __str__(self) -> str:
        return self.quoted

    def copy(self) -> StringNode:
        return StringNode(self.pos, self.quoted, self.text)


class EndNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "{{end}}"


class ElseNode(Node):
    __slots__ = ("line",)

    def __init__(self, pos: int, line: int) -> None:
        super().__init__(pos)
        self.line = line

    def __str__(self) -> str:
        return "{{else}}"


class BranchNode(Node):
    __slots__ = ("else_list", "line", "list", "pipe")
    KEYWORD = ""

    def __init__(self, pos: int, line: int, pipe: PipeNode, lst: ListNode, else_list: ListNode | None) -> None:
        super().__init__(pos)
        self.line = line
        self.pipe = pipe
        self.list = lst
        self.else_list = else_list

    def __str__(self) -> str:
        out = "{{" + self.KEYWORD + " " + str(self.pipe) + "}}" + str(self.list)
        if self.else_list is not None:
            out += "{{else}}" + str(self.else_list)
        return out + "{{end}}"

    def copy(self) -> BranchNode:
        return type(self)(
            self.pos,
            self.line,
            self.pipe.copy(),
            self.list.copy(),
            self.else_list.copy() if self.else_list is not None else None,
        )


class IfNode(BranchNode):
    __slots__ = ()
    KEYWORD = "if"


class RangeNode(BranchNode):
    __slots__ = ()
    KEYWORD = "range"


class WithNode(BranchNode):
    __slots__ = ()
    KEYWORD = "with"


class BreakNode(Node):
    __slots__ = ("line",)

    def __init__(self, pos: int, line: int) -> None:
        super().__init__(pos)
        self.line = line

    def __str__(self) -> str:
        return "{{break}}"

    def copy(self) -> BreakNode:
        return BreakNode(self.pos, self.line)


class ContinueNode(Node):
    __slots__ = ("line",)

    def __init__(self, pos: int, line: int) -> None:
        super().__init__(pos)
        self.line = line

    def __str__(self) -> str:
        return "{{continue}}"

    def copy(self) -> ContinueNode:
        return ContinueNode(self.pos, self.line)


class TemplateNode(Node):
    __slots__ = ("line", "name", "pipe")

    def __init__(self, pos: int, line: int, name: str, pipe: PipeNode | None) -> None:
        super().__init__(pos)
        self.line = line
        self.name = name
        self.pipe = pipe

    def __str__(self) -> str:
        if self.pipe is None:
            return "{{template " + go_quote(self.name) + "}}"
        return "{{template " + go_quote(self.name) + " " + str(self.pipe) + "}}"

    def copy(self) -> TemplateNode:
        return TemplateNode(self.pos, self.line, self.name, self.pipe.copy() if self.pipe is not None else None)


def is_empty_tree(n: Node | None) -> bool:
    """parse.IsEmptyTree: only white space and comments."""
    if n is None or isinstance(n, CommentNode):
        return True
    if isinstance(n, ListNode):
        return all(is_empty_tree(c) for c in n.nodes)
    if isinstance(n, TextNode):
        return go_trim_space(n.text) == ""
    return False
