"""The examples in docs/templates.md run and their assertions hold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "templates.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S) if DOC.is_file() else []


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_docs_example(code: str) -> None:
    exec(compile(code, str(DOC), "exec"), {})


def test_docs_have_examples() -> None:
    assert len(BLOCKS) >= 4
