"""The parser of Go's text/template (text/template/parse/parse.go) and its literal syntax.

It follows parse.go token for token, with Go's three-token look-ahead, so trees and parse errors are
Go's: ``template: <name>:<line>: <message>``.
"""

from __future__ import annotations

import math
from . import _golex as L
from ._errors import TemplateSyntaxError
from .._go.strconv import QuoteSyntaxError, go_quote, parse_float, parse_int, unquote, unquote_char
from ._gonodes import (
    ActionNode,
    BoolNode,
    BreakNode,
    ChainNode,
    CommandNode,
    CommentNode,
    ContinueNode,
    DotNode,
    ElseNode,
    EndNode,
    FieldNode,
    IdentifierNode,
    IfNode,
    ListNode,
    NilNode,
    Node,
    NumberNode,
    PipeNode,
    RangeNode,
    Source,
    StringNode,
    TemplateNode,
    TextNode,
    VariableNode,
    WithNode,
    is_empty_tree,
)

__all__ = ["new_number", "parse_template", "unquote"]


def new_number(pos: int, text: str, typ: int) -> NumberNode:
    """parse.newNumber: a number literal under every type that can hold it (Go's ideal constants)."""
    n = NumberNode(pos, text)
    if typ == L.CHAR_CONSTANT:
        try:
            piece, i = unquote_char(text, 1, "'")
        except (QuoteSyntaxError, IndexError):
            raise ValueError("invalid syntax") from None
        if text[i:] != "'":
            raise ValueError(f"malformed character constant: {text}")
        r = piece[0] if isinstance(piece, bytes) else ord(piece)
        n.int64 = n.uint64 = r
        n.float64 = float(r)
        n.is_int = n.is_uint = n.is_float = True
        return n
    if typ == L.COMPLEX:
        idx = max(text.rfind("+", 1), text.rfind("-", 1))
        real = parse_float(text[:idx])
        imag = parse_float(text[idx:-1])
        if real is None or imag is None:
            raise ValueError(f"expected integer or float: {text}")
        n.is_complex = True
        n.complex128 = complex(real, imag)
        _simplify_complex(n)
        return n
    if text.endswith("i"):
        f = parse_float(text[:-1])
        if f is not None:
            n.is_complex = True
            n.complex128 = complex(0, f)
            _simplify_complex(n)
            return n
    u = parse_int(text, signed=False)
    if u is not None:
        n.is_uint = True
        n.uint64 = u
    i = parse_int(text, signed=True)
    if i is not None:
        n.is_int = True
        n.int64 = i
        if i == 0:
            n.is_uint = True
            n.uint64 = 0
    if n.is_int:
        n.is_float = True
        n.float64 = float(n.int64)
    elif n.is_uint:
        n.is_float = True
        n.float64 = float(n.uint64)
    else:
        f = parse_float(text)
        if f is not None:
            if not any(c in text for c in ".eEpP"):
                raise ValueError(f"integer overflow: {go_quote(text)}")
            n.is_float = True
            n.float64 = f
            if not math.isinf(f) and f == int(f):
                iv = int(f)
                if -(1 << 63) <= iv < (1 << 63):
                    n.is_int = True
                    n.int64 = iv
                if 0 <= iv < (1 << 64):
                    n.is_uint = True
                    n.uint64 = iv
    if not (n.is_int or n.is_uint or n.is_float):
        raise ValueError(f"illegal number syntax: {go_quote(text)}")
    return n


def _simplify_complex(n: NumberNode) -> None:
    if n.complex128.imag == 0:
        n.is_float = True
        n.float64 = n.complex128.real
        if n.float64 == int(n.float64) and -(1 << 63) <= int(n.float64) < (1 << 63):
            n.is_int = True
            n.int64 = int(n.float64)
            if n.int64 >= 0:
                n.is_uint = True
                n.uint64 = n.int64


# --- the parser -----------------------------------------------------------------------------------------


class _Stream:
    """The shared token stream (Go's lexer, which nested define/block trees keep reading from)."""

    __slots__ = ("i", "items")

    def __init__(self, items: list[L.Item]) -> None:
        self.items = items
        self.i = 0

    def next_item(self) -> L.Item:
        item = self.items[self.i]
        if self.i < len(self.items) - 1:
            self.i += 1
        return item


class _Tree:
    """One template being parsed (Go's parse.Tree during parsing)."""

    def __init__(self, name: str, src: Source, stream: _Stream, funcs: frozenset[str], tree_set: dict[str, ListNode]):
        self.name = name
        self.src = src
        self.stream = stream
        self.funcs = funcs
        self.tree_set = tree_set
        self.token: list[L.Item] = [L.Item(L.EOF, 0, ""), L.Item(L.EOF, 0, ""), L.Item(L.EOF, 0, "")]
        self.peek_count = 0
        self.vars = ["$"]
        self.action_line = 0
        self.range_depth = 0
        self.stack_depth = 0
        self.root: ListNode | None = None

    # token buffer ----------------------------------------------------------------------------------------

    def next(self) -> L.Item:
        if self.peek_count > 0:
            self.peek_count -= 1
        else:
            self.token[0] = self.stream.next_item()
        return self.token[self.peek_count]

    def backup(self) -> None:
        self.peek_count += 1

    def backup2(self, t1: L.Item) -> None:
        self.token[1] = t1
        self.peek_count = 2

    def backup3(self, t2: L.Item, t1: L.Item) -> None:
        self.token[1] = t1
        self.token[2] = t2
        self.peek_count = 3

    def peek(self) -> L.Item:
        if self.peek_count > 0:
            return self.token[self.peek_count - 1]
        self.peek_count = 1
        self.token[0] = self.stream.next_item()
        return self.token[0]

    def next_non_space(self) -> L.Item:
        while True:
            token = self.next()
            if token.typ != L.SPACE:
                return token

    def peek_non_space(self) -> L.Item:
        token = self.next_non_space()
        self.backup()
        return token

    # errors ----------------------------------------------------------------------------------------------

    def line_of(self, item: L.Item) -> int:
        return self.src.line(item.pos)

    def errorf(self, msg: str) -> None:
        tok = self.token[0]
        line, col = self.src.line_col(tok.pos)
        raise TemplateSyntaxError(
            f"template: {self.src.name}:{line}: {msg}", name=self.src.name, line=line, column=col
        )

    def unexpected(self, token: L.Item, context: str) -> None:
        if token.typ == L.ERROR:
            extra = ""
            tline = self.line_of(token)
            if self.action_line != 0 and self.action_line != tline:
                extra = f" in action started at {self.src.name}:{self.action_line}"
                if token.val.endswith(" action"):
                    extra = extra[len(" in action") :]
            self.errorf(f"{token.describe()}{extra}")
        self.errorf(f"unexpected {token.describe()} in {context}")

    def expect(self, expected: int, context: str) -> L.Item:
        token = self.next_non_space()
        if token.typ != expected:
            self.unexpected(token, context)
        return token

    def expect_one_of(self, e1: int, e2: int, context: str) -> L.Item:
        token = self.next_non_space()
        if token.typ != e1 and token.typ != e2:
            self.unexpected(token, context)
        return token

    # top level -------------------------------------------------------------------------------------------

    def parse(self) -> None:
        self.root = ListNode(self.peek().pos)
        while self.peek().typ != L.EOF:
            if self.peek().typ == L.LEFT_DELIM:
                delim = self.next()
                if self.next_non_space().typ == L.DEFINE:
                    new_t = _Tree("definition", self.src, self.stream, self.funcs, self.tree_set)
                    new_t.parse_definition()
                    continue
                self.backup2(delim)
            n = self.text_or_action()
            if isinstance(n, (EndNode, ElseNode)):
                self.errorf(f"unexpected {n}")
            self.root.nodes.append(n)

    def add(self) -> None:
        existing = self.tree_set.get(self.name)
        if existing is None or is_empty_tree(existing):
            assert self.root is not None
            self.tree_set[self.name] = self.root
            return
        if not is_empty_tree(self.root):
            self.errorf(f"template: multiple definition of template {go_quote(self.name)}")

    def parse_definition(self) -> None:
        context = "define clause"
        name = self.expect_one_of(L.STRING, L.RAW_STRING, context)
        try:
            self.name = unquote(name.val)
        except ValueError as exc:
            self.errorf(str(exc))
        self.expect(L.RIGHT_DELIM, context)
        self.root, end = self.item_list()
        if not isinstance(end, EndNode):
            self.errorf(f"unexpected {end} in {context}")
        self.add()

    def item_list(self) -> tuple[ListNode, Node]:
        lst = ListNode(self.peek_non_space().pos)
        while self.peek_non_space().typ != L.EOF:
            n = self.text_or_action()
            if isinstance(n, (EndNode, ElseNode)):
                return lst, n
            lst.nodes.append(n)
        self.errorf("unexpected EOF")
        raise AssertionError  # unreachable

    def text_or_action(self) -> Node:
        token = self.next_non_space()
        if token.typ == L.TEXT:
            return TextNode(token.pos, token.val)
        if token.typ == L.LEFT_DELIM:
            self.action_line = self.line_of(token)
            try:
                return self.action()
            finally:
                self.action_line = 0
        if token.typ == L.COMMENT:
            return CommentNode(token.pos, token.val)
        self.unexpected(token, "input")
        raise AssertionError

    def action(self) -> Node:
        token = self.next_non_space()
        typ = token.typ
        if typ == L.BLOCK:
            return self.block_control()
        if typ == L.BREAK:
            return self.break_control(token.pos, self.line_of(token))
        if typ == L.CONTINUE:
            return self.continue_control(token.pos, self.line_of(token))
        if typ == L.ELSE:
            return self.else_control()
        if typ == L.END:
            return self.end_control()
        if typ == L.IF:
            return IfNode(*self.parse_control("if"))
        if typ == L.RANGE:
            return RangeNode(*self.parse_control("range"))
        if typ == L.TEMPLATE:
            return self.template_control()
        if typ == L.WITH:
            return WithNode(*self.parse_control("with"))
        self.backup()
        token = self.peek()
        return ActionNode(token.pos, self.line_of(token), self.pipeline("command", L.RIGHT_DELIM))

    def break_control(self, pos: int, line: int) -> Node:
        token = self.next_non_space()
        if token.typ != L.RIGHT_DELIM:
            self.unexpected(token, "{{break}}")
        if self.range_depth == 0:
            self.errorf("{{break}} outside {{range}}")
        return BreakNode(pos, line)

    def continue_control(self, pos: int, line: int) -> Node:
        token = self.next_non_space()
        if token.typ != L.RIGHT_DELIM:
            self.unexpected(token, "{{continue}}")
        if self.range_depth == 0:
            self.errorf("{{continue}} outside {{range}}")
        return ContinueNode(pos, line)

    def pipeline(self, context: str, end: int) -> PipeNode:
        token = self.peek_non_space()
        pipe = PipeNode(token.pos, self.line_of(token))
        while True:  # the "decls" label
            v = self.peek_non_space()
            if v.typ != L.VARIABLE:
                break
            self.next()
            token_after = self.peek()
            nxt = self.peek_non_space()
            if nxt.typ in (L.ASSIGN, L.DECLARE):
                pipe.is_assign = nxt.typ == L.ASSIGN
                self.next_non_space()
                pipe.decl.append(VariableNode(v.pos, v.val))
                self.vars.append(v.val)
            elif nxt.typ == L.CHAR and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(VariableNode(v.pos, v.val))
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().typ in (L.VARIABLE, L.RIGHT_DELIM, L.RIGHT_PAREN):
                        continue
                    self.errorf("range can only initialize variables")
                self.errorf(f"too many declarations in {context}")
            elif token_after.typ == L.SPACE:
                self.backup3(v, token_after)
            else:
                self.backup2(v)
            break
        while True:
            token = self.next_non_space()
            if token.typ == end:
                self.check_pipeline(pipe, context)
                return pipe
            if token.typ in (
                L.BOOL,
                L.CHAR_CONSTANT,
                L.COMPLEX,
                L.DOT,
                L.FIELD,
                L.IDENTIFIER,
                L.NUMBER,
                L.NIL,
                L.RAW_STRING,
                L.STRING,
                L.VARIABLE,
                L.LEFT_PAREN,
            ):
                self.backup()
                pipe.cmds.append(self.command())
            else:
                self.unexpected(token, context)

    def check_pipeline(self, pipe: PipeNode, context: str) -> None:
        if not pipe.cmds:
            self.errorf(f"missing value for {context}")
        for i, c in enumerate(pipe.cmds[1:]):
            if isinstance(c.args[0], (BoolNode, DotNode, NilNode, NumberNode, StringNode)):
                self.errorf(f"non executable command in pipeline stage {i + 2}")

    def parse_control(self, context: str) -> tuple[int, int, PipeNode, ListNode, ListNode | None]:
        nvars = len(self.vars)
        try:
            pipe = self.pipeline(context, L.RIGHT_DELIM)
            if context == "range":
                self.range_depth += 1
            lst, nxt = self.item_list()
            if context == "range":
                self.range_depth -= 1
            else_list: ListNode | None = None
            if isinstance(nxt, ElseNode):
                if context == "if" and self.peek().typ == L.IF:
                    self.next()
                    else_list = ListNode(nxt.pos)
                    else_list.nodes.append(IfNode(*self.parse_control("if")))
                elif context == "with" and self.peek().typ == L.WITH:
                    self.next()
                    else_list = ListNode(nxt.pos)
                    else_list.nodes.append(WithNode(*self.parse_control("with")))
                else:
                    else_list, nxt = self.item_list()
                    if not isinstance(nxt, EndNode):
                        self.errorf(f"expected end; found {nxt}")
            return pipe.pos, pipe.line, pipe, lst, else_list
        finally:
            del self.vars[nvars:]

    def end_control(self) -> Node:
        return EndNode(self.expect(L.RIGHT_DELIM, "end").pos)

    def else_control(self) -> Node:
        peek = self.peek_non_space()
        if peek.typ in (L.IF, L.WITH):
            return ElseNode(peek.pos, self.line_of(peek))
        token = self.expect(L.RIGHT_DELIM, "else")
        return ElseNode(token.pos, self.line_of(token))

    def block_control(self) -> Node:
        context = "block clause"
        token = self.next_non_space()
        name = self.parse_template_name(token, context)
        pipe = self.pipeline(context, L.RIGHT_DELIM)
        block = _Tree(name, self.src, self.stream, self.funcs, self.tree_set)
        block.root, end = block.item_list()
        if not isinstance(end, EndNode):
            self.errorf(f"unexpected {end} in {context}")
        block.add()
        return TemplateNode(token.pos, self.line_of(token), name, pipe)

    def template_control(self) -> Node:
        context = "template clause"
        token = self.next_non_space()
        name = self.parse_template_name(token, context)
        pipe: PipeNode | None = None
        if self.next_non_space().typ != L.RIGHT_DELIM:
            self.backup()
            pipe = self.pipeline(context, L.RIGHT_DELIM)
        return TemplateNode(token.pos, self.line_of(token), name, pipe)

    def parse_template_name(self, token: L.Item, context: str) -> str:
        if token.typ in (L.STRING, L.RAW_STRING):
            try:
                return unquote(token.val)
            except ValueError as exc:
                self.errorf(str(exc))
        self.unexpected(token, context)
        raise AssertionError

    def command(self) -> CommandNode:
        cmd = CommandNode(self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            token = self.next()
            if token.typ == L.SPACE:
                continue
            if token.typ in (L.RIGHT_DELIM, L.RIGHT_PAREN):
                self.backup()
            elif token.typ == L.PIPE:
                pass
            else:
                self.unexpected(token, "operand")
            break
        if not cmd.args:
            self.errorf("empty command")
        return cmd

    def operand(self) -> Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().typ == L.FIELD:
            chain = ChainNode(self.peek().pos, node)
            while self.peek().typ == L.FIELD:
                chain.add(self.next().val)
            if isinstance(node, FieldNode):
                node = FieldNode(chain.pos, str(chain))
            elif isinstance(node, VariableNode):
                node = VariableNode(chain.pos, str(chain))
            elif isinstance(node, (BoolNode, StringNode, NumberNode, NilNode, DotNode)):
                self.errorf(f"unexpected . after term {go_quote(str(node))}")
            else:
                node = chain
        return node

    def term(self) -> Node | None:
        token = self.next_non_space()
        typ = token.typ
        if typ == L.IDENTIFIER:
            if token.val not in self.funcs:
                self.errorf(f"function {go_quote(token.val)} not defined")
            return IdentifierNode(token.pos, token.val)
        if typ == L.DOT:
            return DotNode(token.pos)
        if typ == L.NIL:
            return NilNode(token.pos)
        if typ == L.VARIABLE:
            return self.use_var(token.pos, token.val)
        if typ == L.FIELD:
            return FieldNode(token.pos, token.val)
        if typ == L.BOOL:
            return BoolNode(token.pos, token.val == "true")
        if typ in (L.CHAR_CONSTANT, L.COMPLEX, L.NUMBER):
            try:
                return new_number(token.pos, token.val, typ)
            except ValueError as exc:
                self.errorf(str(exc))
        if typ == L.LEFT_PAREN:
            if self.stack_depth >= 10000:
                self.errorf("max expression depth exceeded")
            self.stack_depth += 1
            try:
                return self.pipeline("parenthesized pipeline", L.RIGHT_PAREN)
            finally:
                self.stack_depth -= 1
        if typ in (L.STRING, L.RAW_STRING):
            try:
                text = unquote(token.val)
            except ValueError as exc:
                self.errorf(str(exc))
            return StringNode(token.pos, token.val, text)
        self.backup()
        return None

    def use_var(self, pos: int, name: str) -> Node:
        v = VariableNode(pos, name)
        if v.ident[0] in self.vars:
            return v
        self.errorf(f"undefined variable {go_quote(v.ident[0])}")
        raise AssertionError


def parse_template(text: str, funcs: frozenset[str], name: str = "") -> tuple[Source, dict[str, ListNode]]:
    """Parse ``text`` into its named trees ({"": main, "x": {{define "x"}}...}); raises TemplateSyntaxError."""
    src = Source(text, name)
    items = L.lex(text, break_ok="break" not in funcs, continue_ok="continue" not in funcs)
    tree_set: dict[str, ListNode] = {}
    t = _Tree(name, src, _Stream(items), funcs, tree_set)
    t.parse()
    t.add()
    return src, tree_set


