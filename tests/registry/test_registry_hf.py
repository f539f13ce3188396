"""Hugging Face pulls through huggingface-hub against a local endpoint (HF_ENDPOINT)."""

from __future__ import annotations

import hashlib

import pytest
from gguf_factory import CHATML_TEMPLATE, write_tiny_gguf
from regtest_servers import FakeHuggingFace

from ollamalib.errors import ModelNotFoundError, RegistryError
from ollamalib.registry._hf import GGUFFile, choose_gguf, choose_projector
from ollamalib.types import MEDIA_TYPE_MODEL, MEDIA_TYPE_PROJECTOR

REPO = "tester/Tiny-Chat-GGUF"
VISION_REPO = "tester/Tiny-Vision-GGUF"


def write_projector_gguf(path, seed: int):
    """A minimal vision-projector GGUF as llama.cpp's converter labels one (clip architecture, vision blocks,
    no text blocks): enough for create to file it as a projector layer."""
    import gguf
    import numpy as np

    w = gguf.GGUFWriter(str(path), "clip")
    w.add_type("mmproj")
    w.add_uint32("clip.vision.block_count", 1)
    w.add_uint32("clip.vision.embedding_length", 8)
    w.add_tensor("mm.0.weight", np.random.default_rng(seed).standard_normal((8, 8)).astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.fixture(scope="module")
def gguf_files(tmp_path_factory) -> dict[str, bytes]:
    d = tmp_path_factory.mktemp("hf")
    q4 = write_tiny_gguf(d / "a.gguf", chat_template=CHATML_TEMPLATE, seed=1).read_bytes()
    q8 = write_tiny_gguf(d / "b.gguf", chat_template=CHATML_TEMPLATE, seed=2).read_bytes()
    return {
        "README.md": b"# tiny\n",
        "Tiny-Chat-Q4_K_M.gguf": q4,
        "Tiny-Chat-Q8_0.gguf": q8,
        "Tiny-Chat-Q4_K_S.gguf": q8,
    }


@pytest.fixture(scope="module")
def vision_files(tmp_path_factory, gguf_files) -> dict[str, bytes]:
    d = tmp_path_factory.mktemp("hf-vision")
    return {
        "Tiny-Vision-Q4_K_M.gguf": gguf_files["Tiny-Chat-Q4_K_M.gguf"],
        "mmproj-Tiny-Vision-F16.gguf": write_projector_gguf(d / "f16.gguf", 1).read_bytes(),
        "mmproj-Tiny-Vision-Q8_0.gguf": write_projector_gguf(d / "q8.gguf", 2).read_bytes(),
    }


@pytest.fixture
def hf_endpoint(monkeypatch, gguf_files, vision_files):
    with FakeHuggingFace() as hf:
        hf.repos[REPO] = gguf_files
        hf.repos[VISION_REPO] = vision_files
        monkeypatch.setenv("HF_ENDPOINT", f"http://{hf.host}")
        monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
        yield hf


def _statuses(events) -> list[str]:
    out: list[str] = []
    for e in events:
        if not out or out[-1] != e.status:
            out.append(e.status)
    return out


@pytest.mark.parametrize(
    ("name", "file"),
    [
        (f"hf.co/{REPO}", "Tiny-Chat-Q4_K_M.gguf"),
        (f"hf.co/{REPO}:q8_0", "Tiny-Chat-Q8_0.gguf"),
        (f"huggingface.co/{REPO}:Q4_K_S", "Tiny-Chat-Q4_K_S.gguf"),
    ],
)
def test_hf_pull_chooses_the_quant_and_creates_the_model(
    hf_endpoint, gguf_files, make_store, make_registry, name, file
):
    store = make_store("s")
    events = list(make_registry(store, insecure=False).pull(name))
    digest = "sha256:" + hashlib.sha256(gguf_files[file]).hexdigest()
    assert _statuses(events) == [
        "pulling manifest",
        f"pulling {digest[7:19]}",
        "verifying sha256 digest",
        "writing manifest",
        "success",
    ]
    record = store.record(name)
    model_layers = record.stored.manifest.layers_of(MEDIA_TYPE_MODEL)
    assert [layer.digest for layer in model_layers] == [digest]
    assert store.read_blob(digest) == gguf_files[file]
    assert record.config.model_family == "llama"  # create read the GGUF's metadata
    paths = [p for _, p, _ in hf_endpoint.requests]
    assert any(p.startswith(f"/api/models/{REPO}/tree/main") for p in paths)
    assert any(p == f"/{REPO}/resolve/main/{file}" for p in paths)


def test_hf_pull_through_a_cdn_redirect_and_repull_is_cached(hf_endpoint, gguf_files, make_store, make_registry):
    hf_endpoint.cdn_host = f"localhost:{hf_endpoint.port}"
    store = make_store("s")
    registry = make_registry(store, part_size=64 * 1024)
    list(registry.pull(f"hf.co/{REPO}:Q4_K_M"))
    digest = "sha256:" + hashlib.sha256(gguf_files["Tiny-Chat-Q4_K_M.gguf"]).hexdigest()
    assert store.read_blob(digest) == gguf_files["Tiny-Chat-Q4_K_M.gguf"]
    cdn_ranges = [h.get("Range") for _, p, h in hf_endpoint.requests if p.startswith("/cdn/") and h.get("Range")]
    assert len(cdn_ranges) >= 2  # parts fetched in parallel from the redirect target

    hf_endpoint.requests.clear()
    again = list(registry.pull(f"hf.co/{REPO}:Q4_K_M"))
    assert _statuses(again)[-1] == "success"
    assert not [p for _, p, _ in hf_endpoint.requests if "/resolve/" in p or p.startswith("/cdn/")]


def test_hf_errors(hf_endpoint, make_store, make_registry):
    registry = make_registry(make_store("s"))
    with pytest.raises(ModelNotFoundError, match="^pull model manifest: file does not exist$"):
        list(registry.pull("hf.co/tester/missing-repo"))
    with pytest.raises(RegistryError, match="IQ2_XXS"):
        list(registry.pull(f"hf.co/{REPO}:IQ2_XXS"))


def test_choose_gguf_matches_whole_tokens_case_insensitively():
    files = [
        GGUFFile("model-IQ4_XS.gguf", 1),
        GGUFFile("model-Q4_K.gguf", 1),
        GGUFFile("model-Q4_K_M.gguf", 1),
        GGUFFile("sub/model-Q4_K_M.gguf", 1),
        GGUFFile("mmproj-model-Q4_K_M.gguf", 1),
        GGUFFile("model.Q8_0.gguf", 1),
        GGUFFile("big-Q6_K-00001-of-00002.gguf", 1),
    ]
    assert choose_gguf(files, "q4_k_m").path == "model-Q4_K_M.gguf"
    assert choose_gguf(files, "Q4_K").path == "model-Q4_K.gguf"
    assert choose_gguf(files, "q8_0").path == "model.Q8_0.gguf"
    assert choose_gguf(files, "IQ4_XS").path == "model-IQ4_XS.gguf"
    with pytest.raises(RegistryError):
        choose_gguf(files, "Q4_XS")
    with pytest.raises(RegistryError, match="shards"):
        choose_gguf(files, "Q6_K")


def test_hf_pull_brings_the_vision_projector(hf_endpoint, vision_files, make_store, make_registry):
    store = make_store("s")
    name = f"hf.co/{VISION_REPO}"
    events = list(make_registry(store).pull(name))
    model = "sha256:" + hashlib.sha256(vision_files["Tiny-Vision-Q4_K_M.gguf"]).hexdigest()
    projector = "sha256:" + hashlib.sha256(vision_files["mmproj-Tiny-Vision-F16.gguf"]).hexdigest()
    assert _statuses(events) == [
        "pulling manifest",
        f"pulling {model[7:19]}",
        f"pulling {projector[7:19]}",
        "verifying sha256 digest",
        "writing manifest",
        "success",
    ]
    manifest = store.record(name).stored.manifest
    assert [layer.digest for layer in manifest.layers_of(MEDIA_TYPE_MODEL)] == [model]
    assert [layer.digest for layer in manifest.layers_of(MEDIA_TYPE_PROJECTOR)] == [projector]
    assert store.read_blob(projector) == vision_files["mmproj-Tiny-Vision-F16.gguf"]
    assert store.record(name).projectors  # the engine will load it with the model


def test_choose_projector_prefers_the_quant_then_unquantized():
    files = [GGUFFile("model-Q4_K_M.gguf", 1), GGUFFile("mmproj-model-Q8_0.gguf", 1),
             GGUFFile("mmproj-model-f16.gguf", 1), GGUFFile("mmproj-model-bf16.gguf", 1)]
    assert choose_projector(files, "Q4_K_M").path == "mmproj-model-f16.gguf"
    assert choose_projector(files, "q8_0").path == "mmproj-model-Q8_0.gguf"
    assert choose_projector(files[:1], "Q4_K_M") is None
    assert choose_projector([GGUFFile("mmproj.gguf", 1)], "Q4_K_M").path == "mmproj.gguf"


@pytest.fixture
def make_registry(make_registry, reg_settings, hf_endpoint):
    """Registries that reach the fake hub through Settings.hf_endpoint, as HF_ENDPOINT sets it."""

    def make(store, **kw):
        kw.setdefault("settings", reg_settings.replace(hf_endpoint=f"http://{hf_endpoint.host}"))
        return make_registry(store, **kw)

    return make
