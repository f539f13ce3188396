"""Modelfile: parse, serialise and resolve Ollama Modelfiles (parser/parser.go), and the ``show`` form.

``Modelfile.parse`` runs the same rune-by-rune state machine as Ollama's ``ParseFile`` (comments, bare and
quoted values, case rules, BOM, CR/LF, dropped non-printable runes, error texts and line numbers), then the
checks Ollama's client makes before a create (``requires`` semver, typed PARAMETERs). ``str(modelfile)``
prints the commands back the way ``parser.Command.String`` does.
"""

from __future__ import annotations

import codecs
import glob as _glob
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._go.fmt import sprint_value
from ._go.json import decoded
from ._go.strconv import is_print
from .convert import adapter_files, check_adapter_dir, check_model_dir, is_safetensors_set
from .errors import InvalidOptionError, ModelfileError
from .names import ModelName
from .options import DEPRECATED_PARAMETERS, format_params

__all__ = [
    "COMMANDS",
    "DEFAULT_TEMPLATE",
    "Command",
    "CreateArgs",
    "Modelfile",
    "expand_path",
    "files_for_model",
    "modelfile_for_show",
    "quote",
    "resolve_path",
    "unquote",
]

log = logging.getLogger(__name__)

COMMANDS: tuple[str, ...] = (
    "from",
    "license",
    "template",
    "system",
    "adapter",
    "draft",
    "renderer",
    "parser",
    "parameter",
    "message",
    "requires",
)
"""Instruction keywords, lower-case (Modelfiles may spell them in any case)."""

DEFAULT_TEMPLATE = "{{ .Prompt }}"
"""The template a model has when it carries no TEMPLATE layer (template.DefaultTemplate)."""

ERR_INVALID_COMMAND = (
    'command must be one of "from", "license", "template", "system", "adapter", "draft", "renderer", '
    '"parser", "parameter", "message", or "requires"'
)
ERR_INVALID_ROLE = 'message role must be one of "system", "user", or "assistant"'
ERR_MISSING_FROM = "no FROM line"
ERR_UNEXPECTED_EOF = "unexpected EOF"
ERR_REQUIRES = "requires must be a valid semver (e.g. 0.14.0)"
ERR_NO_MODEL_FILES = "no Modelfile or safetensors files found"

_ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Command:
    """One instruction: ``name`` is the lower-case keyword, ``args`` the unquoted value.

    ``key`` is the option name of a PARAMETER (case kept) or the role of a MESSAGE, else empty.
    """

    name: str
    args: str
    key: str = ""

    def __str__(self) -> str:
        if self.name == "from":
            return f"FROM {self.args}"
        if self.name == "parameter":
            return f"PARAMETER {self.key} {quote(self.args)}"
        if self.name == "message":
            return f"MESSAGE {self.key} {quote(self.args)}"
        return f"{self.name.upper()} {quote(self.args)}"


def quote(value: str) -> str:
    """Ollama's ``quote``: wrap in ``"`` when the value has a newline or leading/trailing space, ``\"\"\"`` if it
    also holds a ``"``; otherwise leave it bare."""
    if "\n" in value or value.startswith(" ") or value.endswith(" "):
        if '"' in value:
            return f'"""{value}"""'
        return f'"{value}"'
    return value


def unquote(value: str) -> tuple[str, bool]:
    """Ollama's ``unquote``: strip ``\"\"\"…\"\"\"`` or ``"…"``; False when a quote is opened but not closed."""
    if value.startswith('"""'):
        if len(value) >= 6 and value.endswith('"""'):
            return value[3:-3], True
        return "", False
    if value.startswith('"'):
        if len(value) >= 2 and value.endswith('"'):
            return value[1:-1], True
        return "", False
    return value, True


# --- the parser ---------------------------------------------------------------------------------------------

_NIL, _NAME, _VALUE, _PARAMETER, _MESSAGE, _COMMENT = range(6)
_WS = " \t\r\n"


def _is_alpha(ch: str) -> bool:
    return "a" <= ch <= "z" or "A" <= ch <= "Z"


class _ValueBuffer:
    """The value being read, with the bounds of its trimmed text kept up to date (no rescans per space)."""

    __slots__ = ("chars", "first", "last")

    def __init__(self) -> None:
        self.chars: list[str] = []
        self.first = -1
        self.last = -1

    def append(self, ch: str) -> None:
        if ch not in _WS:
            if self.first < 0:
                self.first = len(self.chars)
            self.last = len(self.chars)
        self.chars.append(ch)

    def text(self) -> str:
        return "".join(self.chars)

    def trimmed(self) -> str:
        return "" if self.first < 0 else "".join(self.chars[self.first : self.last + 1])

    def unquote_ok(self) -> bool:
        """Whether ``unquote(TrimSpace(buffer))`` succeeds, from the first and last three trimmed characters."""
        if self.first < 0:
            return True
        n = self.last - self.first + 1
        head = "".join(self.chars[self.first : self.first + 3])
        tail = "".join(self.chars[max(self.first, self.last - 2) : self.last + 1])
        if head == '"""':
            return n >= 6 and tail == '"""'
        if head.startswith('"'):
            return n >= 2 and tail.endswith('"')
        return True


def _decode(data: bytes) -> str:
    """Decode Modelfile bytes as Ollama does: a UTF-16 BOM switches encoding, a UTF-8 BOM is dropped."""
    if data.startswith(codecs.BOM_UTF16_LE):
        return data[2:].decode("utf-16-le", errors="replace")
    if data.startswith(codecs.BOM_UTF16_BE):
        return data[2:].decode("utf-16-be", errors="replace")
    if data.startswith(codecs.BOM_UTF8):
        data = data[3:]
    return data.decode("utf-8", errors="replace")


def _parse_commands(text: str) -> list[Command]:
    """Ollama's ParseFile state machine; raises ModelfileError with Ollama's texts and line numbers."""
    if text.startswith("\ufeff"):
        text = text[1:]
    commands: list[Command] = []
    state = _NIL
    line = 1
    buf = _ValueBuffer()
    name = key = role = ""
    for ch in text:
        if ch == "\r" or ch == "\n":
            line += 1
        out: str | None = None
        if state == _NIL:
            if ch == "#":
                nxt = _COMMENT
            elif ch in _WS:
                nxt = _NIL
            else:
                nxt, out = _NAME, ch
        elif state == _NAME:
            if _is_alpha(ch):
                nxt, out = _NAME, ch
            elif ch == " " or ch == "\t":
                nxt = _VALUE
            else:
                raise ModelfileError(ERR_INVALID_COMMAND, line=line)
        elif state == _VALUE:
            nxt, out = (_NIL if ch in _WS else _VALUE), ch
        elif state == _PARAMETER:
            if _is_alpha(ch) or "0" <= ch <= "9" or ch == "_":
                nxt, out = _PARAMETER, ch
            elif ch == " " or ch == "\t":
                nxt = _VALUE
            else:
                raise ModelfileError(f"{ERR_UNEXPECTED_EOF}: {buf.text()}")
        elif state == _MESSAGE:
            if _is_alpha(ch):
                nxt, out = _MESSAGE, ch
            elif ch == " " or ch == "\t":
                nxt = _VALUE
            else:
                raise ModelfileError(f"{ERR_UNEXPECTED_EOF}: {buf.text()}")
        else:  # comment
            nxt = _NIL if ch == "\r" or ch == "\n" else _COMMENT

        if nxt != state:
            if state == _NAME:
                word = buf.text().lower()
                if word not in COMMANDS:
                    raise ModelfileError(ERR_INVALID_COMMAND, line=line)
                name = word
                if word == "parameter":
                    nxt = _PARAMETER
                elif word == "message":
                    nxt = _MESSAGE
            elif state == _PARAMETER:
                key = buf.text()
            elif state == _MESSAGE:
                role = buf.text()
                if role not in _ROLES:
                    raise ModelfileError(ERR_INVALID_ROLE, line=line)
            elif state == _VALUE:
                if not buf.unquote_ok() or ch == " " or ch == "\t":
                    buf.append(ch)
                    continue
                commands.append(_command(name, buf.trimmed(), key, role))
                role = ""
            buf = _ValueBuffer()
            state = nxt
        if out is not None and is_print(out):
            buf.append(out)

    if state == _VALUE:
        if not buf.unquote_ok():
            raise ModelfileError(ERR_UNEXPECTED_EOF)
        commands.append(_command(name, buf.trimmed(), key, role))
    elif state not in (_NIL, _COMMENT):
        raise ModelfileError(ERR_UNEXPECTED_EOF)
    if not any(c.name == "from" for c in commands):
        raise ModelfileError(ERR_MISSING_FROM)
    return commands


def _command(name: str, raw: str, key: str, role: str) -> Command:
    value, _ = unquote(raw)
    if name == "parameter":
        return Command("parameter", value, key)
    if name == "message":
        return Command("message", value, role)
    return Command(name, value)


# --- the Modelfile object -----------------------------------------------------------------------------------

_SEMVER = re.compile(
    r"v(?:0|[1-9][0-9]*)"
    r"(?:\.(?:0|[1-9][0-9]*)"
    r"(?:\.(?:0|[1-9][0-9]*)"
    r"(?:-(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
    r")?)?"
)


def _normalize_requires(value: str) -> str:
    """Validate REQUIRES like golang.org/x/mod/semver (``v`` optional) and return it without the ``v``."""
    text = value if value.startswith("v") else "v" + value
    if not _SEMVER.fullmatch(text):
        raise ModelfileError(ERR_REQUIRES)
    return text[1:]


@dataclass
class Modelfile:
    """A parsed Modelfile: its commands in order, plus accessors for what ``create`` needs."""

    commands: list[Command] = field(default_factory=list)
    path: Path | None = field(default=None, compare=False)
    """The file it was read from, if any; relative FROM/ADAPTER/DRAFT paths resolve against its folder."""

    @classmethod
    def parse(cls, text: str | bytes, *, validate: bool = True) -> Modelfile:
        """Parse Modelfile text (or raw bytes, decoded as Ollama does).

        With ``validate`` (the default) also check REQUIRES and type every PARAMETER, as Ollama's client
        does before a create; errors raise ModelfileError with Ollama's texts.
        """
        source = _decode(text) if isinstance(text, bytes) else text
        modelfile = cls(_parse_commands(source))
        if validate:
            modelfile.validate()
        return modelfile

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, validate: bool = True) -> Modelfile:
        """Read and parse a Modelfile; relative paths in it then resolve against its folder."""
        p = Path(path)
        modelfile = cls.parse(p.read_bytes(), validate=validate)
        modelfile.path = p.absolute()
        return modelfile

    def __str__(self) -> str:
        return "".join(f"{command}\n" for command in self.commands)

    def validate(self) -> None:
        """Run Ollama's create-time checks in command order: REQUIRES semver and typed PARAMETERs."""
        for command in self.commands:
            if command.name == "requires":
                _normalize_requires(command.args)
            elif command.name == "parameter" and command.key not in DEPRECATED_PARAMETERS:
                _typed_parameter(command)

    def _args(self, name: str) -> list[str]:
        return [c.args for c in self.commands if c.name == name]

    def _last(self, name: str) -> str | None:
        values = self._args(name)
        return values[-1] if values else None

    @property
    def froms(self) -> list[str]:
        """Every FROM value in order (several FROM lines merge their files, e.g. model + projector)."""
        return self._args("from")

    @property
    def from_(self) -> str | None:
        """The first FROM value."""
        values = self.froms
        return values[0] if values else None

    @property
    def adapters(self) -> list[str]:
        """ADAPTER values in order (Ollama's create keeps only the last one)."""
        return self._args("adapter")

    @property
    def drafts(self) -> list[str]:
        """DRAFT values in order (their files merge into the draft model)."""
        return self._args("draft")

    @property
    def template(self) -> str | None:
        """The last TEMPLATE, or None."""
        return self._last("template")

    @property
    def system(self) -> str | None:
        """The last SYSTEM, or None."""
        return self._last("system")

    @property
    def renderer(self) -> str | None:
        """The last RENDERER, or None."""
        return self._last("renderer")

    @property
    def parser(self) -> str | None:
        """The last PARSER, or None."""
        return self._last("parser")

    @property
    def license(self) -> list[str]:
        """Every LICENSE text in order."""
        return self._args("license")

    @property
    def messages(self) -> list[tuple[str, str]]:
        """MESSAGE instructions as ``(role, content)`` pairs, in order."""
        return [(c.key, c.args) for c in self.commands if c.name == "message"]

    @property
    def requires(self) -> str | None:
        """The last REQUIRES, validated and without a leading ``v``; None when absent."""
        value = self._last("requires")
        return None if value is None else _normalize_requires(value)

    @property
    def parameters(self) -> dict[str, Any]:
        """PARAMETERs typed as Ollama types them: later values win, ``stop`` values accumulate into a list."""
        params: dict[str, Any] = {}
        for command in self.commands:
            if command.name != "parameter":
                continue
            for k, v in _typed_parameter(command).items():
                if isinstance(params.get(k), list):
                    params[k] = params[k] + v
                else:
                    params[k] = v
        return params

    def create_args(self, base_dir: str | os.PathLike[str] | None = None) -> CreateArgs:
        """Resolve the Modelfile into create arguments the way Ollama's client does (CreateRequest).

        FROM/ADAPTER/DRAFT paths resolve against ``base_dir`` (default: the Modelfile's folder, else the
        working directory). A FROM that is not an existing path is a model name; a folder expands to its
        model files (``files_for_model``). Raises ModelfileError with Ollama's texts.
        """
        if base_dir is None:
            base_dir = self.path.parent if self.path is not None else Path.cwd()
        args = CreateArgs()
        model_paths: list[Path] = []
        draft_paths: list[Path] = []
        for command in self.commands:
            if command.name in ("from", "draft", "adapter"):
                path = expand_path(command.args, base_dir)
                if not os.path.exists(path):
                    if command.name == "from":
                        args.from_ = command.args
                        continue
                    if command.name == "draft" and _names_a_model(command.args):
                        args.draft_from = command.args
                        continue
                    raise ModelfileError(f"stat {path}: no such file or directory")
                if not path.is_dir():
                    files = [path]
                elif command.name == "adapter" and (path / "adapter_config.json").is_file():
                    check_adapter_dir(path)  # a PEFT adapter: converted to a LoRA GGUF by create
                    files = adapter_files(path)
                else:
                    files = files_for_model(path)
                    if is_safetensors_set(f.name for f in files):
                        check_model_dir(path)  # fail before uploading what the converter cannot read
                if path.is_dir():
                    real = path.resolve()
                    args.names.update({f: f.relative_to(real).as_posix() for f in files if f.is_relative_to(real)})
                if command.name == "from":
                    _reject_same_path(path, draft_paths)
                    model_paths.append(path)
                    args.files += [f for f in files if f not in args.files]
                elif command.name == "draft":
                    _reject_same_path(path, model_paths)
                    draft_paths.append(path)
                    args.draft_files += [f for f in files if f not in args.draft_files]
                else:
                    args.adapters = files
            elif command.name == "template":
                args.template = command.args
            elif command.name == "system":
                args.system = command.args
            elif command.name == "license":
                args.license.append(command.args)
            elif command.name == "renderer":
                args.renderer = command.args
            elif command.name == "parser":
                args.parser = command.args
            elif command.name == "requires":
                args.requires = _normalize_requires(command.args)
            elif command.name == "message":
                args.messages.append((command.key, command.args))
            elif command.name == "parameter":
                for k, v in _typed_parameter(command).items():
                    current = args.parameters.get(k)
                    args.parameters[k] = current + v if isinstance(current, list) else v
        return args


def _typed_parameter(command: Command) -> dict[str, Any]:
    try:
        return format_params({command.key: [command.args]})
    except InvalidOptionError as exc:
        raise ModelfileError(str(exc)) from None


@dataclass
class CreateArgs:
    """What a Modelfile asks ``create`` to do, with local paths resolved (Ollama's api.CreateRequest)."""

    from_: str | None = None
    """A model name (or blob digest) to build on, when a FROM is not an existing local path."""
    files: list[Path] = field(default_factory=list)
    adapters: list[Path] = field(default_factory=list)
    draft_files: list[Path] = field(default_factory=list)
    draft_from: str | None = None
    """A model in the store whose GGUF becomes the draft layer, when a DRAFT is a model name, not a path."""
    template: str | None = None
    system: str | None = None
    license: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    messages: list[tuple[str, str]] = field(default_factory=list)
    renderer: str | None = None
    parser: str | None = None
    requires: str | None = None
    names: dict[Path, str] = field(default_factory=dict)
    """The name a file found in a FROM/ADAPTER/DRAFT folder takes in create's ``files``: its path relative to
    the folder (any other file goes by its file name, ``name_of``)."""

    def name_of(self, path: Path) -> str:
        """The name ``path`` takes in create's ``files`` / ``adapters`` map."""
        return self.names.get(path, path.name)


def _names_a_model(value: str) -> bool:
    """Whether a DRAFT value that is no existing path is a model name (``DRAFT gemma3:270m``); one that looks
    like a path (``./x``, ``/x``, ``~/x``, ``x.gguf``) stays a missing file, reported as Ollama reports it."""
    return (not value.startswith((".", "/", "~", "\\")) and not value.lower().endswith(".gguf")
            and ModelName.is_valid(value))


def _reject_same_path(path: Path, others: Iterable[Path]) -> None:
    real = os.path.realpath(path)
    for other in others:
        if os.path.realpath(other) == real:
            raise ModelfileError(f"DRAFT must not reference the same local path as FROM: {path}")


# --- paths --------------------------------------------------------------------------------------------------


def _home_of(user: str | None) -> str:
    try:
        import pwd
    except ImportError:  # pragma: no cover - Windows
        if user is None:
            return str(Path.home())
        raise ModelfileError(f"failed to find user '{user}': user: unknown user {user}") from None
    if user is None:
        try:
            return pwd.getpwuid(os.getuid()).pw_dir
        except KeyError:
            return str(Path.home())
    try:
        return pwd.getpwnam(user).pw_dir
    except KeyError:
        raise ModelfileError(f"failed to find user '{user}': user: unknown user {user}") from None


def expand_path(value: str, base_dir: str | os.PathLike[str]) -> Path:
    """Ollama's expandPath: absolute as is, ``~`` / ``~user`` expanded, else relative to ``base_dir``."""
    if os.path.isabs(value) or value.startswith("\\"):
        return Path(os.path.abspath(value))
    if value.startswith("~"):
        if value == "~" or value.startswith("~/"):
            return Path(os.path.abspath(os.path.join(_home_of(None), value[1:].lstrip("/"))))
        user, _, rest = value[1:].partition("/")
        return Path(os.path.abspath(os.path.join(_home_of(user), rest.lstrip("/"))))
    return Path(os.path.abspath(os.path.join(os.fspath(base_dir), value)))


def resolve_path(value: str, base_dir: str | os.PathLike[str]) -> Path | None:
    """The local file or folder a FROM/ADAPTER/DRAFT value names, or None when nothing exists there
    (then a FROM value is a model name)."""
    path = expand_path(value, base_dir)
    return path if os.path.exists(path) else None


def _content_type(path: str) -> str:
    """A subset of Go's http.DetectContentType, enough to tell zip, text and binary files apart."""
    with open(path, "rb") as fh:
        head = fh.read(512)
    if head.startswith((codecs.BOM_UTF16_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF8)):
        return "text/plain"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    if head.startswith(b"\x1f\x8b\x08"):
        return "application/x-gzip"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if any(b <= 0x08 or b == 0x0B or 0x0E <= b <= 0x1A or 0x1C <= b <= 0x1F for b in head):
        return "application/octet-stream"
    return "text/plain"


def _glob_checked(folder: Path, pattern: str, content_type: str) -> list[str]:
    """Go's filepath.Glob (``**`` is one level, hidden files match) plus Ollama's content-type check."""
    matches = sorted(_glob.glob(os.path.join(_glob.escape(str(folder)), pattern), include_hidden=True))
    for match in matches:
        detected = _content_type(match)
        if content_type and detected != content_type:
            raise ModelfileError(f"invalid content type: expected {content_type} but got {detected} for {match}")
    return matches


def _glob_or_none(folder: Path, pattern: str, content_type: str) -> list[str]:
    try:
        return _glob_checked(folder, pattern, content_type)
    except (ModelfileError, OSError):
        return []


_WEIGHT_FALLBACKS = (
    ("consolidated*.safetensors", ""),
    ("pytorch_model*.bin", "application/zip"),
    ("consolidated*.pth", "application/zip"),
    ("*.gguf", "application/octet-stream"),
    ("*.bin", "application/octet-stream"),
)


def files_for_model(folder: str | os.PathLike[str]) -> list[Path]:
    """The files Ollama imports from a model folder (parser.go filesForModel), symlinks resolved.

    Weights: ``model*.safetensors`` (plus one level down), else ``consolidated*.safetensors``, else
    ``pytorch_model*.bin``, else ``consolidated*.pth``, else ``*.gguf``, else ``*.bin``; then ``*.json``,
    ``*/*.json``, ``chat_template.jinja`` and ``tokenizer.model``. Raises ModelfileError(``no Modelfile or
    safetensors files found``) without weights and ``insecure path: …`` for files outside the folder.
    """
    base = Path(folder)
    files = _glob_or_none(base, "model*.safetensors", "")
    if files:
        files += _glob_checked(base, "*/model*.safetensors", "")
    else:
        for pattern, content_type in _WEIGHT_FALLBACKS:
            if files := _glob_or_none(base, pattern, content_type):
                break
        else:
            raise ModelfileError(ERR_NO_MODEL_FILES)
    files += _glob_checked(base, "*.json", "text/plain")
    files += _glob_checked(base, "**/*.json", "text/plain")
    files += _glob_checked(base, "chat_template.jinja", "text/plain")
    files += _glob_or_none(base, "tokenizer.model", "application/octet-stream") or _glob_or_none(
        base, "**/tokenizer.model", "text/plain"
    )
    out: list[Path] = []
    for f in files:
        real = os.path.realpath(f)
        rel = os.path.relpath(real, base)
        if rel == os.curdir or os.path.isabs(rel) or rel.split(os.sep)[0] == os.pardir:
            if ".cache" in rel:
                raise ModelfileError(
                    f"insecure path: {rel}\n\nUse --local-dir <dir> when downloading model to disable caching"
                )
            raise ModelfileError(f"insecure path: {rel}")
        out.append(Path(real))
    return out


# --- the `ollama show --modelfile` form ---------------------------------------------------------------------


def modelfile_for_show(
    name: str,
    from_path: str | os.PathLike[str],
    *,
    adapters: Sequence[str | os.PathLike[str]] = (),
    draft: str | os.PathLike[str] | None = None,
    projectors: Sequence[str | os.PathLike[str]] = (),
    template: str | None = None,
    system: str | None = None,
    renderer: str | None = None,
    parser: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    license: str | Sequence[str] | None = None,
    messages: Iterable[tuple[str, str] | Mapping[str, Any] | Any] = (),
) -> str:
    """The text ``ollama show --modelfile`` prints (routes.go GetModelInfo + images.go Model.String).

    ``name`` is the model's display-shortest name, ``from_path`` its model blob path. ``template=None``
    means Ollama's default template. Parameters print with Go's ``%v`` (numbers as float64), one
    PARAMETER line per list value, in the mapping's order.
    """
    commands = [Command("from", os.fspath(from_path))]
    commands += [Command("adapter", os.fspath(a)) for a in adapters]
    if draft:
        commands.append(Command("draft", os.fspath(draft)))
    commands += [Command("from", os.fspath(p)) for p in projectors]
    commands.append(Command("template", DEFAULT_TEMPLATE if template is None else template))
    if system:
        commands.append(Command("system", system))
    if renderer:
        commands.append(Command("renderer", renderer))
    if parser:
        commands.append(Command("parser", parser))
    for key, val in (parameters or {}).items():
        for item in val if isinstance(val, (list, tuple)) else [val]:
            commands.append(Command("parameter", sprint_value(decoded(item)), key))
    for text in [license] if isinstance(license, str) else list(license or ()):
        commands.append(Command("license", text))
    for message in messages:
        role, content = _role_content(message)
        commands.append(Command("message", content, role))
    header = (
        '# Modelfile generated by "ollama show"\n'
        "# To build a new Modelfile based on this, replace FROM with:\n"
        f"# FROM {name}\n\n"
    )
    return header + str(Modelfile(commands))


def _role_content(message: Any) -> tuple[str, str]:
    if isinstance(message, tuple):
        return str(message[0]), str(message[1])
    if isinstance(message, Mapping):
        return str(message.get("role", "")), str(message.get("content") or "")
    return str(message.role), str(message.content or "")
