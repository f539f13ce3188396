"""The public namespace: a curated, sorted __all__, and an import that stays light."""

import subprocess
import sys

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
