"""The public namespace: a curated, sorted __all__, and an import that stays light."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import ollamalib


def test_all_is_sorted_and_complete():
    names = [n for n in ollamalib.__all__ if n != "__version__"]
    assert names == sorted(names)
    for name in ollamalib.__all__:
        assert hasattr(ollamalib, name), name
    public = {n for n in dir(ollamalib) if not n.startswith("_") and not isinstance(getattr(ollamalib, n), type(ollamalib))}
    assert public <= set(ollamalib.__all__)


def test_import_does_not_load_heavy_modules():
    code = (
        "import sys, ollamalib\n"
        "heavy = [m for m in ('llama_cpp', 'litestar', 'uvicorn', 'ollamalib_server', 'ollamalib_cli', 'numpy') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_errors_inherit_builtins():
    assert issubclass(ollamalib.ModelNotFoundError, LookupError)
    assert issubclass(ollamalib.InvalidNameError, ValueError)
    assert issubclass(ollamalib.StoreError, OSError)
    assert not issubclass(ollamalib.ModelNotFoundError, KeyError)
    assert str(ollamalib.ModelNotFoundError("x")) == "model 'x' not found"


ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ollamalib", "ollamalib_server", "ollamalib_cli")

LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"names", "config", "errors", "types", "_go", "options", "protocol", "parsers", "requests"}),
    frozenset({"store"}),
    frozenset({"gguf", "modelfile", "template", "registry", "convert", "_convert_worker"}),
    frozenset({"create", "show", "rerank"}),
    frozenset({"runner"}),
    frozenset({"scheduler"}),
    frozenset({"engine", "demo"}),
)
"""DESIGN.md's import direction, bottom first: a module imports only its own layer or the ones below."""


def _module_imports(path: Path, package: tuple[str, ...]) -> set[str]:
    """Absolute names of the modules ``path`` imports anywhere in it (function-level imports too)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                prefix = ".".join(base + ([node.module] if node.module else []))
                out.update([prefix] if node.module else [f"{prefix}.{alias.name}" for alias in node.names])
            elif node.module:
                out.add(node.module)
    return out


def _imports_by_module() -> dict[str, set[str]]:
    """Each module of the three packages (dotted name) -> the modules it imports."""
    graph: dict[str, set[str]] = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            package = parts[:-1]
            graph[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = _module_imports(path, package)
    return graph


def _part(module: str) -> str:
    """The top-level part of ollamalib a dotted name belongs to: ``ollamalib.runner._loop`` -> ``runner``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_imports_follow_the_layers_of_the_design():
    level = {name: i for i, layer in enumerate(LAYERS) for name in layer}
    graph = _imports_by_module()
    parts = {_part(m) for m in graph if m.startswith("ollamalib.")}
    assert parts - {"__init__", "client"} <= set(level), "place the new module in LAYERS"
    wrong = []
    for module, imports in graph.items():
        if not module.startswith("ollamalib."):
            continue
        me = _part(module)
        for target in imports:
            if target.split(".")[0] in ("ollamalib_server", "ollamalib_cli"):
                wrong.append(f"{module} -> {target}")
            if not target.startswith("ollamalib.") or _part(target) == me:
                continue
            them = _part(target)
            if me == "client":
                # requests: the models it sends; protocol: the method surface it implements
                if them not in ("types", "errors", "config", "requests", "protocol"):
                    wrong.append(f"{module} -> {target} (client needs only types, errors, config, requests, "
                                 "protocol)")
            elif me != "__init__" and (them not in level or level[them] > level[me]):
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_only_config_reads_the_environment():
    readers = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            text = path.read_text()
            if re.search(r"\bos\.environ\b|\bgetenv\(|\benviron\.get\(|from os import .*environ", text):
                readers.append(str(path.relative_to(ROOT)))
    assert readers == ["ollamalib/config.py"]
