"""Executing a parsed Go template (text/template/exec.go): walking nodes, evaluating pipelines, printing.

The walk follows Go's evaluation order, so variables, scoping, ``missingkey`` handling, nil values and
error positions (``template: <name>:<line>:<col>: executing "<name>" at <node>: ...``) match Go.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._errors import TemplateExecError
from .._go.fmt import sorted_keys, sprint_value
from .._go.strconv import go_quote
from ._gofuncs import ANY, BUILTINS, STRING, VALUE, GoFunc, GoFuncError
from ._gonodes import (
    ActionNode,
    BoolNode,
    BreakNode,
    ChainNode,
    CommentNode,
    ContinueNode,
    DotNode,
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
)
from .._go.values import INVALID, MISSING, GoMap, GoNil, GoSlice, GoStruct, go_type_name, is_int, truth

__all__ = ["MAX_EXEC_DEPTH", "execute"]

MAX_EXEC_DEPTH = 100000


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _Fail(Exception):
    """Carries a finished TemplateExecError out of deep recursion."""

    def __init__(self, error: TemplateExecError) -> None:
        self.error = error


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and (not name[i - 1].isupper() or (i + 1 < len(name) and name[i + 1].islower())):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


class _State:
    __slots__ = ("depth", "funcs", "missingkey", "name", "node", "out", "src", "trees", "vars")

    def __init__(
        self,
        src: Source,
        trees: Mapping[str, ListNode],
        funcs: Mapping[str, GoFunc],
        missingkey: str,
        name: str,
    ) -> None:
        self.src = src
        self.trees = trees
        self.funcs = funcs
        self.missingkey = missingkey
        self.name = name
        self.node: Node | None = None
        self.out: list[str] = []
        self.vars: list[list[Any]] = []
        self.depth = 0

    # errors ----------------------------------------------------------------------------------------------

    def errorf(self, msg: str) -> None:
        node = self.node
        if node is None:
            text = f"template: {self.name}: {msg}"
            raise _Fail(TemplateExecError(text, name=self.name))
        line, col = self.src.line_col(node.pos)
        text = f"template: {self.src.name}:{line}:{col}: executing {go_quote(self.name)} at <{node}>: {msg}"
        raise _Fail(TemplateExecError(text, name=self.name, line=line, column=col))

    # variables -------------------------------------------------------------------------------------------

    def set_var(self, name: str, value: Any) -> None:
        for entry in reversed(self.vars):
            if entry[0] == name:
                entry[1] = value
                return
        self.errorf(f"undefined variable: {name}")

    def var_value(self, name: str) -> Any:
        for entry in reversed(self.vars):
            if entry[0] == name:
                return entry[1]
        self.errorf(f"undefined variable: {name}")
        return INVALID

    # walking ---------------------------------------------------------------------------------------------

    def walk(self, dot: Any, node: Node) -> None:
        self.node = node
        t = type(node)
        if t is TextNode:
            self.out.append(node.text)  # type: ignore[attr-defined]
        elif t is ListNode:
            for n in node.nodes:  # type: ignore[attr-defined]
                self.walk(dot, n)
        elif t is ActionNode:
            pipe = node.pipe  # type: ignore[attr-defined]
            val = self.eval_pipeline(dot, pipe)
            if not pipe.decl:
                self.print_value(node, val)
        elif t is IfNode or t is WithNode:
            self.walk_if_or_with(t is WithNode, dot, node)  # type: ignore[arg-type]
        elif t is RangeNode:
            self.walk_range(dot, node)  # type: ignore[arg-type]
        elif t is TemplateNode:
            self.walk_template(dot, node)  # type: ignore[arg-type]
        elif t is BreakNode:
            raise _Break
        elif t is ContinueNode:
            raise _Continue
        elif t is CommentNode:
            pass
        else:
            self.errorf(f"unknown node: {node}")

    def walk_if_or_with(self, is_with: bool, dot: Any, node: IfNode | WithNode) -> None:
        mark = len(self.vars)
        val = self.eval_pipeline(dot, node.pipe)
        if truth(val):
            self.walk(val if is_with else dot, node.list)
        elif node.else_list is not None:
            self.walk(dot, node.else_list)
        del self.vars[mark:]

    def walk_range(self, dot: Any, r: RangeNode) -> None:
        self.node = r
        mark = len(self.vars)
        try:
            val = self.eval_pipeline(dot, r.pipe)
            body_mark = len(self.vars)
            decl = r.pipe.decl
            is_assign = r.pipe.is_assign

            def one(index: Any, elem: Any) -> None:
                if decl:
                    if is_assign:
                        self.set_var(decl[0].ident[0], index if len(decl) > 1 else elem)
                    else:
                        self.vars[-1][1] = elem
                if len(decl) > 1:
                    if is_assign:
                        self.set_var(decl[1].ident[0], elem)
                    else:
                        self.vars[-2][1] = index
                try:
                    self.walk(elem, r.list)
                except _Continue:
                    pass
                finally:
                    del self.vars[body_mark:]

            ran = False
            if isinstance(val, (list, tuple, bytes, bytearray)):
                for i, elem in enumerate(val):
                    ran = True
                    one(i, elem)
            elif isinstance(val, dict):
                for key in sorted_keys(val):
                    ran = True
                    one(key, val[key])
            elif is_int(val):
                if len(decl) > 1:
                    self.errorf(f"can't use {val} to iterate over more than one variable")
                for i in range(val):
                    ran = True
                    one(i, i)
            elif val is INVALID:
                pass
            else:
                self.errorf(f"range can't iterate over {sprint_value(val, deref=True)}")
            if not ran and r.else_list is not None:
                self.walk(dot, r.else_list)
        except _Break:
            pass
        finally:
            del self.vars[mark:]

    def walk_template(self, dot: Any, t: TemplateNode) -> None:
        self.node = t
        tree = self.trees.get(t.name)
        if tree is None:
            self.errorf(f"template {go_quote(t.name)} not defined")
            return
        if self.depth >= MAX_EXEC_DEPTH:
            self.errorf(f"exceeded maximum template depth ({MAX_EXEC_DEPTH})")
        dot = self.eval_pipeline(dot, t.pipe)
        saved = self.vars, self.name
        self.vars = [["$", dot]]
        self.name = t.name
        self.depth += 1
        try:
            self.walk(dot, tree)
        finally:
            self.vars, self.name = saved
            self.depth -= 1

    # evaluation ------------------------------------------------------------------------------------------

    def eval_pipeline(self, dot: Any, pipe: PipeNode | None) -> Any:
        if pipe is None:
            return INVALID
        self.node = pipe
        value = MISSING
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
            if value is None:  # an interface{} holding nil digs down to no value
                value = INVALID
        for var in pipe.decl:
            if pipe.is_assign:
                self.set_var(var.ident[0], value)
            else:
                self.vars.append([var.ident[0], value])
        return value

    def not_a_function(self, args: list[Node], final: Any) -> None:
        if len(args) > 1 or final is not MISSING:
            self.errorf(f"can't give argument to non-function {args[0]}")

    def eval_command(self, dot: Any, cmd: Any, final: Any) -> Any:
        first = cmd.args[0]
        t = type(first)
        if t is FieldNode:
            self.node = first
            return self.eval_field_chain(dot, dot, first, first.ident, cmd.args, final)
        if t is VariableNode:
            return self.eval_variable_node(dot, first, cmd.args, final)
        if t is IdentifierNode:
            return self.eval_function(dot, first, cmd, cmd.args, final)
        if t is ChainNode:
            return self.eval_chain_node(dot, first, cmd.args, final)
        if t is PipeNode:
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first)
        self.node = first
        self.not_a_function(cmd.args, final)
        if t is StringNode:
            return first.text
        if t is DotNode:
            return dot
        if t is BoolNode:
            return first.true
        if t is NumberNode:
            return self.ideal_constant(first)
        if t is NilNode:
            self.errorf("nil is not a command")
        self.errorf(f"can't evaluate command {go_quote(str(first))}")
        return INVALID

    def ideal_constant(self, n: NumberNode) -> Any:
        self.node = n
        text = n.text
        if n.is_complex:
            return n.complex128
        is_hex_int = len(text) > 2 and text[0] == "0" and text[1] in "xX" and not any(c in text for c in "pP")
        is_rune = text.startswith("'")
        if n.is_float and not is_hex_int and not is_rune and any(c in text for c in ".eEpP"):
            return n.float64
        if n.is_int:
            return n.int64
        if n.is_uint:
            self.errorf(f"{text} overflows int")
        return INVALID

    def eval_chain_node(self, dot: Any, chain: ChainNode, args: list[Node] | None, final: Any) -> Any:
        self.node = chain
        if isinstance(chain.node, NilNode):
            self.errorf(f"indirection through explicit nil in {chain}")
        pipe = self.eval_arg(dot, None, chain.node)
        return self.eval_field_chain(dot, pipe, chain, chain.field, args, final)

    def eval_variable_node(self, dot: Any, var: VariableNode, args: list[Node] | None, final: Any) -> Any:
        self.node = var
        value = self.var_value(var.ident[0])
        if len(var.ident) == 1:
            self.not_a_function(args or [var], final)
            return value
        return self.eval_field_chain(dot, value, var, var.ident[1:], args, final)

    def eval_field_chain(
        self, dot: Any, receiver: Any, node: Node, ident: list[str], args: list[Node] | None, final: Any
    ) -> Any:
        n = len(ident)
        for i in range(n - 1):
            receiver = self.eval_field(dot, ident[i], node, None, MISSING, receiver)
        return self.eval_field(dot, ident[n - 1], node, args, final, receiver)

    def eval_field(
        self, dot: Any, name: str, node: Node, args: list[Node] | None, final: Any, receiver: Any
    ) -> Any:
        if receiver is INVALID:
            if self.missingkey == "error":
                self.errorf(f"nil data; no entry for key {go_quote(name)}")
            return INVALID
        if receiver is None:
            self.errorf(f"nil pointer evaluating interface {{}}.{name}")
        has_args = (args is not None and len(args) > 1) or final is not MISSING
        if name == "String":  # the only Go method our values have: String() on printable types
            stringer = _string_method(receiver)
            if stringer is not None:
                return self.eval_call(dot, _method(stringer, "String"), False, node, name, args, final)
        if isinstance(receiver, dict):
            if has_args:
                self.errorf(f"{name} is not a method but has arguments")
            try:
                return receiver[name]
            except KeyError:
                mk = self.missingkey
                if mk == "zero":
                    return receiver.zero if isinstance(receiver, GoMap) else None
                if mk == "error":
                    self.errorf(f"map has no entry for key {go_quote(name)}")
                return INVALID
        elif isinstance(receiver, GoStruct):
            if name in receiver.FIELDS:
                if has_args:
                    self.errorf(f"{name} has arguments but cannot be invoked as function")
                return getattr(receiver, name)
        elif isinstance(receiver, GoNil):
            if name in receiver.fields:
                self.errorf(f"nil pointer evaluating {receiver.gotype}.{name}")
        elif not isinstance(receiver, (str, int, float, complex, bytes, list, tuple, bool)) and not name.startswith("_"):
            for attr in (name, _snake(name)):
                if hasattr(receiver, attr):
                    value = getattr(receiver, attr)
                    if callable(value) and not isinstance(value, type):
                        return self.eval_call(dot, _method(value, name), False, node, name, args, final)
                    if has_args:
                        self.errorf(f"{name} has arguments but cannot be invoked as function")
                    return value
        self.errorf(f"can't evaluate field {name} in type {go_type_name(receiver)}")
        return INVALID

    def eval_function(self, dot: Any, node: IdentifierNode, cmd: Node, args: list[Node] | None, final: Any) -> Any:
        self.node = node
        name = node.ident
        fn = self.funcs.get(name)
        is_builtin = False
        if fn is None:
            fn = BUILTINS.get(name)
            is_builtin = fn is not None
            if fn is None:
                self.errorf(f"{go_quote(name)} is not a defined function")
                return INVALID
        else:
            is_builtin = fn is BUILTINS.get(name)
        return self.eval_call(dot, fn, is_builtin, cmd, name, args, final)

    def eval_call(
        self, dot: Any, fn: GoFunc, is_builtin: bool, node: Node, name: str, args: list[Node] | None, final: Any
    ) -> Any:
        call_args = args[1:] if args is not None else []
        num_in = len(call_args) + (0 if final is MISSING else 1)
        fixed = fn.fixed
        num_fixed = len(fixed)
        if fn.variadic is not None:
            if num_in < num_fixed:
                self.errorf(f"wrong number of args for {name}: want at least {num_fixed} got {len(call_args)}")
        elif num_in != num_fixed:
            self.errorf(f"wrong number of args for {name}: want {num_fixed} got {num_in}")

        if is_builtin and (name == "and" or name == "or"):
            want = name == "or"
            v: Any = INVALID
            for arg in call_args:
                v = self.eval_arg(dot, VALUE, arg)
                if truth(v) == want:
                    return v
            if final is not MISSING:
                v = final
            return v

        argv: list[Any] = []
        i = 0
        while i < num_fixed and i < len(call_args):
            argv.append(self.eval_arg(dot, fixed[i], call_args[i]))
            i += 1
        if fn.variadic is not None:
            kind = fn.variadic
            while i < len(call_args):
                argv.append(self.eval_arg(dot, kind, call_args[i]))
                i += 1
        if final is not MISSING:
            if fn.variadic is not None:
                kind = fixed[num_in - 1] if num_in - 1 < num_fixed else fn.variadic
            else:
                kind = fixed[-1]
            argv.append(self.validate_type(final, kind))
        try:
            return fn.fn(*argv)
        except GoFuncError as exc:
            self.node = node
            self.errorf(f"error calling {name}: {exc}")
        return INVALID

    def validate_type(self, value: Any, kind: str | None) -> Any:
        if kind is None or kind == VALUE:
            return value
        if kind == ANY:
            return None if value is INVALID else value
        # STRING
        if value is INVALID:
            self.errorf(f"invalid value; expected {kind}")
        if isinstance(value, str):
            return value
        self.errorf(f"wrong type for value; expected {kind}; got {go_type_name(value)}")
        return value

    def eval_arg(self, dot: Any, kind: str | None, n: Node) -> Any:
        self.node = n
        t = type(n)
        if t is FieldNode:
            return self.validate_type(self.eval_field_chain(dot, dot, n, n.ident, [n], MISSING), kind)  # type: ignore[attr-defined]
        if t is VariableNode:
            return self.validate_type(self.eval_variable_node(dot, n, None, MISSING), kind)  # type: ignore[arg-type]
        if t is DotNode:
            return self.validate_type(dot, kind)
        if t is PipeNode:
            return self.validate_type(self.eval_pipeline(dot, n), kind)  # type: ignore[arg-type]
        if t is IdentifierNode:
            return self.validate_type(self.eval_function(dot, n, n, None, MISSING), kind)  # type: ignore[arg-type]
        if t is ChainNode:
            return self.validate_type(self.eval_chain_node(dot, n, None, MISSING), kind)  # type: ignore[arg-type]
        if t is NilNode:
            if kind == VALUE:
                return INVALID
            if kind is None or kind == ANY:
                return None
            self.errorf(f"cannot assign nil to {kind}")
        if kind == STRING:
            if t is StringNode:
                return n.text  # type: ignore[attr-defined]
            self.errorf(f"expected string; found {n}")
        if t is StringNode:
            return n.text  # type: ignore[attr-defined]
        if t is BoolNode:
            return n.true  # type: ignore[attr-defined]
        if t is NumberNode:
            return self.ideal_constant(n)  # type: ignore[arg-type]
        self.errorf(f"can't handle assignment of {n} to empty interface argument")
        return INVALID

    # printing --------------------------------------------------------------------------------------------

    def print_value(self, node: Node, v: Any) -> None:
        if type(v) is str:
            self.out.append(v)
            return
        self.node = node
        if v is INVALID:
            self.out.append("<no value>")
            return
        if callable(v) and not isinstance(v, (GoStruct, GoSlice, GoMap)):
            self.errorf(f"can't print {node} of type {go_type_name(v)}")
        self.out.append(sprint_value(v, deref=True))


def _string_method(receiver: Any) -> Any:
    if isinstance(receiver, GoStruct) and receiver.STRINGER:
        return receiver.go_string
    if isinstance(receiver, (GoSlice, GoMap)) and receiver.stringer is not None:
        stringer = receiver.stringer
        return lambda: stringer(receiver)
    return None


def _method(fn: Any, name: str) -> GoFunc:
    def call(*args: Any) -> Any:
        try:
            return fn(*args)
        except GoFuncError:
            raise
        except Exception as exc:
            raise GoFuncError(str(exc)) from exc

    return GoFunc(name, call, (), ANY)


def execute(
    src: Source,
    trees: Mapping[str, ListNode],
    name: str,
    data: Any,
    *,
    funcs: Mapping[str, GoFunc],
    missingkey: str = "zero",
) -> str:
    """Run the template ``name`` of ``trees`` on ``data`` and return the output."""
    state = _State(src, trees, funcs, missingkey, name)
    root = trees.get(name)
    if root is None:
        raise TemplateExecError(f"template: {name}: {go_quote(name)} is an incomplete or empty template", name=name)
    state.vars = [["$", data]]
    try:
        state.walk(data, root)
    except _Fail as fail:
        raise fail.error from None
    except (_Break, _Continue):  # pragma: no cover - the parser rejects break/continue outside range
        pass
    except RecursionError:
        raise TemplateExecError(
            f"template: {name}: exceeded maximum template depth ({MAX_EXEC_DEPTH})", name=name
        ) from None
    return "".join(state.out)
