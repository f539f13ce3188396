"""Shared fixtures: real artifacts only (tiny GGUF models, stores on disk, the bundled demo model)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SHARED = REPO.parent / "shared"
CONFORMANCE = SHARED / "conformance" / "ollama-templates"
sys.path.insert(0, str(TESTS))

from gguf_factory import endless_gguf, tiny_embed_gguf, tiny_gguf, tiny_gguf_f16, write_tiny_gguf  # noqa: E402,F401

from ollamalib.config import Settings  # noqa: E402
from ollamalib.store import ModelStore  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory, monkeypatch):
    """Keep every test away from the user's real store, keys and history."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("OLLAMALIB_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("OLLAMALIB_HOME", str(home / "dot-ollama"))
    monkeypatch.delenv("OLLAMA_MODELS", raising=False)
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)


@pytest.fixture
def store(tmp_path) -> ModelStore:
    return ModelStore(tmp_path / "models")


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.from_env({}, models=tmp_path / "models", data_dir=tmp_path, home_dir=tmp_path / "dot-ollama")


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    if not CONFORMANCE.is_dir():
        pytest.skip(f"Ollama conformance data not found at {CONFORMANCE} (it lives in ../shared beside the checkout)")
    return CONFORMANCE


@pytest.fixture(scope="session")
def gemma_gguf() -> Path:
    """The bundled Gemma 3 270M GGUF (written once into the user cache by its package); fails when [demo] is missing."""
    from ollamalib.demo import demo_gguf_path

    try:
        return demo_gguf_path()
    except ImportError as exc:  # the Makefile installs [demo]: a missing model is a failure, never a skip
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """The bundled SmolLM2-135M-Instruct GGUF (ChatML template); fails, never skips, when [demo] is missing."""
    from ollamalib.demo import chat_gguf_path

    try:
        return chat_gguf_path()
    except ImportError as exc:
        pytest.fail(f"the chat model is part of the [dev] install (make install): {exc}")


@pytest.fixture(scope="session")
def hf_models(tmp_path_factory) -> Path:
    """Tiny random Hugging Face models (llama, qwen2 sharded, gemma3) and a PEFT LoRA (lora) as safetensors.

    Needs the [convert] extra (torch, transformers, peft), which `make test` installs: no skip when it is missing.
    """
    from hf_factory import write_hf_model, write_lora, write_tokenizer

    root = tmp_path_factory.mktemp("hf")
    write_tokenizer(root / "tokenizer")
    for kind in ("llama", "qwen2", "gemma3"):
        write_hf_model(root / kind, kind, root / "tokenizer", shard=(kind == "qwen2"))
    write_lora(root / "llama", root / "lora")
    return root


def pytest_collection_modifyitems(config, items):
    if os.environ.get("OLLAMALIB_SKIP_E2E"):
        skip = pytest.mark.skip(reason="OLLAMALIB_SKIP_E2E is set")
        for item in items:
            if "e2e" in item.keywords:
                item.add_marker(skip)
