"""Ollama's template semantics on top of GoTemplate (template/template.go).

The values a template sees are Go structs with Ollama's field names (``.Role``, ``.ToolCalls``,
``.Function.Arguments``...), built from ``ollamalib.types`` models or plain dicts. ``execute`` picks
Ollama's mode: suffix (``.Prompt``/``.Suffix``), messages (``.Messages`` once, after collation), or
legacy (``.Prompt``/``.Response`` once per turn, the last turn cut right after ``{{ .Response }}``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from typing import Any

from .._go.fmt import sprint_value
from .._go.strconv import go_quote
from .._go.json import go_json
from ._errors import TemplateSyntaxError
from ._gonodes import (
    ActionNode,
    BranchNode,
    FieldNode,
    ListNode,
    Node,
    PipeNode,
    TemplateNode,
)
from .._go.values import GoMap, GoNil, GoSlice, GoStruct
from ._gotemplate import GoTemplate, response_action

__all__ = [
    "OllamaValues",
    "ToolProperty",
    "collate",
    "execute_ollama",
    "prepare",
    "to_template_messages",
    "to_template_tools",
]


# --- JSON-decoded values --------------------------------------------------------------------------------


def json_any(v: Any) -> Any:
    """A value as Go's encoding/json decodes it into ``any``: numbers become float64."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, Mapping):
        return {str(k): json_any(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_any(x) for x in v]
    if hasattr(v, "model_dump"):
        return json_any(v.model_dump(mode="json", by_alias=True, exclude_none=True))
    return str(v)


def _as_list(v: Any) -> list[Any] | None:
    """A JSON array as a list; anything else (absent or malformed) as None."""
    return list(v) if isinstance(v, (list, tuple)) else None


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        value = obj.get(key, default)
    else:
        value = getattr(obj, key, default)
    return default if value is None else value


# --- the structs templates see --------------------------------------------------------------------------


def _json_stringer(v: Any) -> str:
    return go_json(v)


def _args_stringer(v: Any) -> str:
    return "{}" if getattr(v, "nil", False) else go_json(v)


class PropertyType(GoSlice):
    """api.PropertyType: one JSON-Schema type or several; prints ``string`` or ``[string null]``."""

    __slots__ = ()

    def __init__(self, items: Iterable[str] = ()) -> None:
        super().__init__(items, "api.PropertyType", stringer=_property_type_text)

    def marshal_json(self) -> str:
        if len(self) == 1:
            return go_json(self[0])
        return go_json(list(self))


def _property_type_text(v: Any) -> str:
    if not v:
        return ""
    if len(v) == 1:
        return str(v[0])
    return sprint_value(list(v))


_TS_TYPES = {
    "string": "string",
    "number": "number",
    "integer": "number",
    "boolean": "boolean",
    "array": "any[]",
    "object": "Record<string, any>",
    "null": "null",
}


def _ts_literal(v: Any) -> str | None:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return sprint_value(float(v))
    if isinstance(v, str):
        return go_quote(v)
    return None


def _ts_enum(values: Any) -> str | None:
    if not values:
        return None
    literals = [_ts_literal(x) for x in values]
    if any(lit is None for lit in literals):
        return None
    return " | ".join(literals)  # type: ignore[arg-type]


_TOOL_PROPERTY_FIELDS = ("AnyOf", "Type", "Items", "Description", "Enum", "Properties", "Required")


class ToolProperty(GoStruct):
    """api.ToolProperty: one parameter's JSON Schema."""

    __slots__ = _TOOL_PROPERTY_FIELDS
    GO_TYPE = "api.ToolProperty"
    FIELDS = _TOOL_PROPERTY_FIELDS
    JSON = (
        ("AnyOf", "anyOf", True),
        ("Type", "type", True),
        ("Items", "items", True),
        ("Description", "description", True),
        ("Enum", "enum", True),
        ("Properties", "properties", True),
        ("Required", "required", True),
    )

    def __init__(
        self,
        AnyOf: Any = None,  # noqa: N803 - Go field names
        Type: Any = None,  # noqa: N803
        Items: Any = None,  # noqa: N803
        Description: str = "",  # noqa: N803
        Enum: Any = None,  # noqa: N803
        Properties: Any = None,  # noqa: N803
        Required: Any = None,  # noqa: N803
    ) -> None:
        self.AnyOf = AnyOf if AnyOf is not None else GoSlice((), "[]api.ToolProperty", nil=True)
        self.Type = Type if Type is not None else PropertyType()
        self.Items = Items
        self.Description = Description
        self.Enum = Enum if Enum is not None else GoSlice((), "[]interface {}", nil=True)
        self.Properties = Properties if Properties is not None else GoNil("*api.ToolPropertiesMap")
        self.Required = Required if Required is not None else GoSlice((), "[]string", nil=True)

    def to_typescript_type(self) -> str:
        """api.ToolProperty.ToTypeScriptType, as the ``toTypeScriptType`` template function returns it."""
        if self.AnyOf:
            return " | ".join(p.to_typescript_type() for p in self.AnyOf)
        enum = _ts_enum(self.Enum)
        if enum is not None:
            return enum
        if not self.Type:
            return "any"
        out = []
        for t in self.Type:
            if t == "array" and isinstance(self.Items, Mapping):
                items_enum = _ts_enum(self.Items.get("enum"))
                if items_enum is not None:
                    out.append(f"({items_enum})[]")
                    continue
            out.append(_TS_TYPES.get(t, "any"))
        return " | ".join(out)


def _property(raw: Any) -> ToolProperty:
    if isinstance(raw, ToolProperty):
        return raw
    raw = raw if isinstance(raw, Mapping) else {}
    type_ = raw.get("type")
    types = [type_] if isinstance(type_, str) else [str(t) for t in _as_list(type_) or ()]
    props = raw.get("properties")
    any_of = _as_list(raw.get("anyOf"))
    enum = _as_list(raw.get("enum"))
    required = _as_list(raw.get("required"))
    return ToolProperty(
        AnyOf=GoSlice([_property(p) for p in any_of], "[]api.ToolProperty") if any_of else None,
        Type=PropertyType(types),
        Items=json_any(raw.get("items")),
        Description=str(raw.get("description") or ""),
        Enum=GoSlice([json_any(x) for x in enum], "[]interface {}") if enum is not None else None,
        Properties=_ordered_properties(props) if isinstance(props, Mapping) else None,
        Required=GoSlice([str(r) for r in required], "[]string") if required is not None else None,
    )


def _ordered_properties(props: Mapping[str, Any]) -> GoMap:
    return GoMap(
        {str(k): _property(v) for k, v in props.items()},
        "*api.ToolPropertiesMap",
        zero=ToolProperty(),
        ordered=True,
    )


class TemplateToolFunctionParameters(GoStruct):
    """A tool's parameter schema; prints as its JSON, as Ollama's api.ToolFunctionParameters did."""

    __slots__ = ("Defs", "Items", "Properties", "Required", "Type")
    GO_TYPE = "template.templateToolFunctionParameters"
    STRINGER = True
    FIELDS = ("Type", "Defs", "Items", "Required", "Properties")
    JSON = (
        ("Type", "type", False),
        ("Defs", "$defs", True),
        ("Items", "items", True),
        ("Required", "required", True),
        ("Properties", "properties", False),
    )

    def __init__(self, raw: Any) -> None:
        raw = raw if isinstance(raw, Mapping) else {}
        self.Type = str(raw.get("type") or "")
        self.Defs = json_any(raw.get("$defs", raw.get("defs")))
        self.Items = json_any(raw.get("items"))
        required = _as_list(raw.get("required"))
        self.Required = (
            GoSlice([str(r) for r in required], "[]string") if required is not None else GoSlice((), "[]string", nil=True)
        )
        props = raw.get("properties")
        self.Properties = GoMap(
            {str(k): _property(v) for k, v in props.items()} if isinstance(props, Mapping) else {},
            "template.templateProperties",
            zero=ToolProperty(),
            nil=not isinstance(props, Mapping),
            stringer=_args_stringer,
        )

    def go_string(self) -> str:
        return go_json(self)


class TemplateToolFunction(GoStruct):
    """A tool's function; prints as its JSON, as ``{{ .Function }}`` did in Ollama's api.ToolFunction."""

    __slots__ = ("Description", "Name", "Parameters")
    GO_TYPE = "template.templateToolFunction"
    FIELDS = ("Name", "Description", "Parameters")
    JSON = (("Name", "name", False), ("Description", "description", False), ("Parameters", "parameters", False))
    STRINGER = True

    def __init__(self, raw: Any) -> None:
        self.Name = str(_get(raw, "name", ""))
        self.Description = str(_get(raw, "description", ""))
        self.Parameters = TemplateToolFunctionParameters(_get(raw, "parameters", {}))

    def go_string(self) -> str:
        return go_json(self)


class TemplateTool(GoStruct):
    """One tool; prints as its JSON, as Ollama's api.Tool did."""

    __slots__ = ("Function", "Items", "Type")
    GO_TYPE = "template.templateTool"
    FIELDS = ("Type", "Items", "Function")
    JSON = (("Type", "type", False), ("Items", "items", True), ("Function", "function", False))
    STRINGER = True

    def __init__(self, raw: Any) -> None:
        self.Type = str(_get(raw, "type", ""))
        self.Items = json_any(_get(raw, "items"))
        self.Function = TemplateToolFunction(_get(raw, "function", {}))

    def go_string(self) -> str:
        return go_json(self)


class TemplateToolCallFunction(GoStruct):
    __slots__ = ("Arguments", "Index", "Name")
    GO_TYPE = "template.templateToolCallFunction"
    FIELDS = ("Index", "Name", "Arguments")
    JSON = (("Index", "Index", False), ("Name", "Name", False), ("Arguments", "Arguments", False))

    def __init__(self, raw: Any) -> None:
        index = _get(raw, "index", 0)
        self.Index = int(index) if isinstance(index, (int, float)) else 0
        self.Name = str(_get(raw, "name", ""))
        args = _get(raw, "arguments")
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except ValueError:
                args = None
        self.Arguments = GoMap(
            json_any(args) if isinstance(args, Mapping) else {},
            "template.templateArgs",
            nil=not isinstance(args, Mapping),
            stringer=_args_stringer,
        )


class TemplateToolCall(GoStruct):
    __slots__ = ("Function", "ID")
    GO_TYPE = "template.templateToolCall"
    FIELDS = ("ID", "Function")
    JSON = (("ID", "ID", False), ("Function", "Function", False))

    def __init__(self, raw: Any) -> None:
        self.ID = str(_get(raw, "id", ""))
        self.Function = TemplateToolCallFunction(_get(raw, "function", {}))


def _image_bytes(image: Any) -> bytes:
    if isinstance(image, (bytes, bytearray)):
        return bytes(image)
    text = str(image)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.encode("utf-8", "surrogateescape")


class TemplateMessage(GoStruct):
    """One message as a template sees it (``*template.templateMessage``)."""

    __slots__ = ("Content", "Images", "Role", "Thinking", "ToolCallID", "ToolCalls", "ToolName")
    GO_TYPE = "template.templateMessage"
    POINTER = True
    FIELDS = ("Role", "Content", "Thinking", "Images", "ToolCalls", "ToolName", "ToolCallID")
    JSON = tuple((f, f, False) for f in FIELDS)

    def __init__(self, raw: Any) -> None:
        role = _get(raw, "role", "")
        self.Role = role.lower() if isinstance(role, str) else str(role)
        self.Content = str(_get(raw, "content", ""))
        self.Thinking = str(_get(raw, "thinking", ""))
        images = _as_list(_get(raw, "images"))
        self.Images = (
            GoSlice([_image_bytes(i) for i in images], "[]api.ImageData")
            if images
            else GoSlice((), "[]api.ImageData", nil=True)
        )
        calls = _as_list(_get(raw, "tool_calls"))
        self.ToolCalls = (
            GoSlice([TemplateToolCall(c) for c in calls], "[]template.templateToolCall")
            if calls
            else GoSlice((), "[]template.templateToolCall", nil=True)
        )
        self.ToolName = str(_get(raw, "tool_name", ""))
        self.ToolCallID = str(_get(raw, "tool_call_id", ""))


def to_template_messages(messages: Iterable[Any] | None) -> list[TemplateMessage]:
    """Messages (ollamalib.types.Message or dicts) as template structs."""
    return [TemplateMessage(m) for m in messages or ()]


def to_template_tools(tools: Iterable[Any] | None) -> GoSlice:
    """Tools (ollamalib.types.Tool or dicts) as ``template.templateTools``: prints as JSON, nil for None."""
    items = [TemplateTool(t) for t in tools] if tools is not None else []
    return GoSlice(items, "template.templateTools", nil=tools is None, stringer=_json_stringer)


# --- Ollama's Execute -----------------------------------------------------------------------------------


def collate(msgs: list[TemplateMessage]) -> tuple[str, list[TemplateMessage]]:
    """All system texts joined by a blank line, and the messages with same-role runs merged (not tool)."""
    system: list[str] = []
    collated: list[TemplateMessage] = []
    for m in msgs:
        if m.Role == "system":
            system.append(m.Content)
        if collated and collated[-1].Role == m.Role and m.Role != "tool":
            collated[-1].Content += "\n\n" + m.Content
        else:
            collated.append(m)
    return "\n\n".join(system), collated


class OllamaValues:
    """template.Values: what Ollama hands a template."""

    __slots__ = ("is_think_set", "messages", "prompt", "suffix", "think", "think_level", "tools")

    def __init__(
        self,
        messages: list[TemplateMessage],
        tools: GoSlice,
        *,
        prompt: str = "",
        suffix: str = "",
        think: bool = False,
        think_level: str = "",
        is_think_set: bool = False,
    ) -> None:
        self.messages = messages
        self.tools = tools
        self.prompt = prompt
        self.suffix = suffix
        self.think = think
        self.think_level = think_level
        self.is_think_set = is_think_set


def _check_pipes(node: Node) -> None:
    """Ollama's Identifiers refuses a ``{{ template "x" }}`` without a pipeline (a nil Pipe)."""
    if isinstance(node, TemplateNode) and node.pipe is None:
        raise TemplateSyntaxError("undefined template specified")
    if isinstance(node, ListNode):
        for child in node.nodes:
            _check_pipes(child)
    elif isinstance(node, BranchNode):
        _check_pipes(node.list)
        if node.else_list is not None:
            _check_pipes(node.else_list)


def prepare(tmpl: GoTemplate) -> tuple[GoTemplate, list[str]]:
    """Ollama's Parse: append ``{{ .Response }}`` when neither .Messages nor .Response is used."""
    for tree in tmpl.trees.values():
        _check_pipes(tree)
    variables = tmpl.identifiers()
    if "messages" not in variables and "response" not in variables:
        root = tmpl.root
        tmpl.trees[tmpl.name] = ListNode(root.pos, [*root.nodes, response_action()])
        variables = tmpl.identifiers()
    return tmpl, variables


def execute_ollama(tmpl: GoTemplate, variables: list[str], v: OllamaValues, *, force_legacy: bool = False) -> str:
    """template.Template.Execute: suffix, messages or legacy mode, exactly as Ollama chooses."""
    system, messages = collate(v.messages)
    think = {"Think": v.think, "ThinkLevel": v.think_level, "IsThinkSet": v.is_think_set}
    if v.prompt and v.suffix:
        return tmpl.execute({"Prompt": v.prompt, "Suffix": v.suffix, "Response": "", **think})
    if not force_legacy and "messages" in variables:
        return tmpl.execute(
            {
                "System": system,
                "Messages": GoSlice(messages, "[]*template.templateMessage", nil=not messages),
                "Tools": v.tools,
                "Response": "",
                **think,
            }
        )

    out: list[str] = []
    system = prompt = response = ""
    for m in messages:

        def run() -> None:
            nonlocal system, prompt, response
            out.append(tmpl.execute({"System": system, "Prompt": prompt, "Response": response, **think}))
            system = prompt = response = ""

        if m.Role == "system":
            if prompt or response:
                run()
            system = m.Content
        elif m.Role == "user":
            if response:
                run()
            prompt = m.Content
        elif m.Role == "assistant":
            response = m.Content

    cut = cut_after_response(tmpl.root)
    out.append(
        tmpl.execute_tree(
            cut,
            {"System": system, "Prompt": prompt, "Response": response, **think},
            funcs=False,
            missingkey="default",
        )
    )
    return "".join(out)


def cut_after_response(root: ListNode) -> ListNode:
    """Ollama's deleteNode: a copy of the tree with every node after the first ``.Response`` removed."""
    cut = False

    def pred(n: Node) -> bool:
        nonlocal cut
        if isinstance(n, FieldNode) and "Response" in n.ident:
            cut = True
            return False
        return cut

    def walk(n: Node) -> Node | None:
        if pred(n):
            return None
        if isinstance(n, ListNode):
            n.nodes = [c for c in (walk(c) for c in n.nodes) if c is not None]
            return n
        if isinstance(n, BranchNode):
            if pred(n):  # the embedded BranchNode is visited on its own in Go
                return None
            lst = walk(n.list)
            n.list = lst if isinstance(lst, ListNode) else ListNode(n.list.pos)
            if n.else_list is not None:
                el = walk(n.else_list)
                n.else_list = el if isinstance(el, ListNode) else None
            return n
        if isinstance(n, ActionNode):
            p = walk(n.pipe)
            if p is None:
                return None
            n.pipe = p  # type: ignore[assignment]
            return n
        if isinstance(n, PipeNode):
            commands = []
            for c in n.cmds:
                args = [a for a in (walk(a) for a in c.args) if a is not None]
                if not args:
                    return None
                c.args = args
                commands.append(c)
            if not commands:
                return None
            n.cmds = commands
            return n
        return n

    result = walk(root.copy())
    return result if isinstance(result, ListNode) else ListNode(root.pos)
