"""create / show / copy / delete / list on real GGUF files (the tiny one, and Gemma 3 270M end to end)."""

import json

import pytest

from gguf_factory import CHATML_TEMPLATE, write_tiny_gguf
from ollamalib.create import create_from_modelfile, create_model
from ollamalib.errors import BlobNotFoundError, ModelfileError, ModelNotFoundError, UnsupportedQuantizationError
from ollamalib.gguf import GGUFInfo
from ollamalib.runner.quantize import quantize as quantizer
from ollamalib.show import show_model
from ollamalib.types import MEDIA_TYPE_MODEL, MEDIA_TYPE_PARAMS, MEDIA_TYPE_SYSTEM, MEDIA_TYPE_TEMPLATE


def statuses(events):
    return [e.status for e in events]


def test_create_from_gguf_path_writes_layers_and_config(store, tiny_gguf):
    events = statuses(create_model(store, "tiny", from_=str(tiny_gguf), system="Be brief.", parameters={"temperature": 0.5}))
    assert events[0] == "parsing GGUF"
    assert events[-2:] == ["writing manifest", "success"]
    assert any(s.startswith("creating new layer sha256:") for s in events)
    stored = store.resolve("tiny")
    media = [layer.mediaType for layer in stored.manifest.layers]
    assert media == [MEDIA_TYPE_MODEL, MEDIA_TYPE_SYSTEM, MEDIA_TYPE_PARAMS]
    assert store.read_blob(stored.manifest.layers[0].digest) == tiny_gguf.read_bytes()
    config = store.config(stored)
    assert (config.model_format, config.model_family, config.file_type) == ("gguf", "llama", "F32")
    rec = store.record("tiny")
    assert rec.system == "Be brief." and rec.parameters == {"temperature": 0.5}


def test_create_from_blob_digest_and_files(store, tiny_gguf):
    digest = store.put_blob_file(tiny_gguf)
    statuses(create_model(store, "a", from_=str(digest)))
    statuses(create_model(store, "b", files={"model.gguf": str(digest)}))
    assert store.resolve("a").manifest.layers == store.resolve("b").manifest.layers
    with pytest.raises(ModelfileError, match="file path must be relative"):
        statuses(create_model(store, "c", files={"/etc/passwd": str(digest)}))
    with pytest.raises(ModelfileError, match="neither 'from' or 'files' was specified"):
        statuses(create_model(store, "c"))
    with pytest.raises(BlobNotFoundError):
        statuses(create_model(store, "c", files={"m.gguf": "sha256:" + "0" * 64}))


def test_create_from_existing_model_merges_parameters(store, tiny_gguf):
    statuses(create_model(store, "base", from_=str(tiny_gguf), template="{{ .Prompt }}", parameters={"temperature": 0.5, "stop": ["a"]}))
    events = statuses(create_model(store, "child", from_="base", parameters={"top_k": 7, "stop": ["b"]}, system="S"))
    assert any(s.startswith("using existing layer") for s in events)
    rec = store.record("child")
    assert rec.parameters == {"temperature": 0.5, "stop": ["b"], "top_k": 7}
    assert rec.template == "{{ .Prompt }}" and rec.system == "S"
    model_layer = store.resolve("child").manifest.layers[0]
    assert model_layer.from_ == "base:latest"
    with pytest.raises(ModelNotFoundError):
        statuses(create_model(store, "x", from_="ghost"))


def test_template_replaced_and_messages_replaced(store, tiny_gguf):
    statuses(create_model(store, "m", from_=str(tiny_gguf), messages=[{"role": "user", "content": "hi"}]))
    statuses(create_model(store, "m2", from_="m", messages=[{"role": "assistant", "content": "yo"}], template="T"))
    rec = store.record("m2")
    assert [(m.role, m.content) for m in rec.messages] == [("assistant", "yo")]
    assert [l.mediaType for l in store.resolve("m2").manifest.layers].count(MEDIA_TYPE_TEMPLATE) == 1


def test_create_from_modelfile_text(store, tiny_gguf, tmp_path):
    (tmp_path / "tiny.gguf").write_bytes(tiny_gguf.read_bytes())
    text = 'FROM ./tiny.gguf\nSYSTEM """You are\na pirate."""\nPARAMETER stop <|im_end|>\nPARAMETER stop "###"\nPARAMETER temperature 0.2\nMESSAGE user Hello\nLICENSE MIT\n'
    statuses(create_from_modelfile(store, "pirate", text, base_dir=tmp_path))
    rec = store.record("pirate")
    assert rec.system == "You are\na pirate."
    assert rec.parameters == {"stop": ["<|im_end|>", "###"], "temperature": 0.2}
    assert rec.license == ["MIT"]
    assert [(m.role, m.content) for m in rec.messages] == [("user", "Hello")]


def test_create_from_modelfile_errors(store, tmp_path):
    with pytest.raises(ModelfileError, match="no FROM line"):
        statuses(create_from_modelfile(store, "x", "SYSTEM hi\n", base_dir=tmp_path))
    with pytest.raises(ModelNotFoundError, match="model 'nothing-here:latest' not found|model 'nothing-here' not found"):
        statuses(create_from_modelfile(store, "x", "FROM nothing-here\n", base_dir=tmp_path))


def test_show_cycle(store, tiny_gguf):
    statuses(create_model(store, "tiny", from_=str(tiny_gguf), system="Sys", parameters={"temperature": 0.5, "stop": ["x", "y"]}, license="MIT"))
    info = show_model(store, "tiny")
    assert info.system == "Sys" and info.license == "MIT"
    assert info.details.family == "llama" and info.details.format == "gguf"
    assert info.capabilities == ["completion"]
    assert info.template == CHATML_TEMPLATE  # no TEMPLATE layer: the GGUF's own Jinja template is used
    assert info.model_info["general.architecture"] == "llama"
    assert "general.name" not in info.model_info and "tokenizer.chat_template" not in info.model_info
    assert 'stop                           "x"' in info.parameters
    assert "temperature                    0.5" in info.parameters
    mf = info.modelfile
    assert mf.startswith('# Modelfile generated by "ollama show"\n')
    assert "# FROM tiny:latest" in mf
    assert f"FROM {store.record('tiny').model_path}" in mf
    assert "PARAMETER stop x" in mf and "SYSTEM Sys" in mf or 'SYSTEM """Sys"""' in mf
    with pytest.raises(ModelNotFoundError, match="model 'ghost:latest' not found"):
        show_model(store, "ghost")


def test_embedding_model_capabilities(store, tiny_embed_gguf):
    statuses(create_model(store, "emb", from_=str(tiny_embed_gguf)))
    assert show_model(store, "emb").capabilities == ["embedding"]


def test_copy_delete_list_cycle(store, tiny_gguf):
    statuses(create_model(store, "tiny", from_=str(tiny_gguf)))
    store.copy("tiny", "other/tiny:v2")
    assert sorted(m.name for m in store.list()) == ["other/tiny:v2", "tiny:latest"]
    store.delete("tiny")
    assert [m.name for m in store.list()] == ["other/tiny:v2"]
    assert show_model(store, "other/tiny:v2").details.family == "llama"
    store.delete("other/tiny:v2")
    assert store.list() == [] and list(store.blobs_dir.iterdir()) == []


def test_quantize_f16_to_q4_k_m(store, tiny_gguf_f16):
    events = list(create_model(store, "q", from_=str(tiny_gguf_f16), quantize="q4_K_M", quantizer=quantizer))
    quant = [e for e in events if e.status == "quantizing F16 model to Q4_K_M"]
    assert quant and quant[-1].completed == quant[-1].total
    rec = store.record("q")
    assert GGUFInfo.read(rec.model_path).file_type == "Q4_K_M"
    assert store.list()[0].details.quantization_level == "Q4_K_M"


def test_quantize_errors(store, tiny_gguf_f16, tmp_path):
    with pytest.raises(UnsupportedQuantizationError, match="unsupported quantization type Q2_K"):
        statuses(create_model(store, "q", from_=str(tiny_gguf_f16), quantize="q2_K", quantizer=quantizer))
    statuses(create_model(store, "q8", from_=str(tiny_gguf_f16), quantize="q8_0", quantizer=quantizer))
    with pytest.raises(UnsupportedQuantizationError, match="quantization is only supported for F16, BF16 and F32 models"):
        statuses(create_model(store, "again", from_="q8", quantize="q4_K_M", quantizer=quantizer))
    assert not store.exists("again")


def test_autodetected_template_from_named_templates(store, tmp_path, conformance_dir):
    index = json.loads((conformance_dir / "index.json").read_text())
    chatml = next(e["template"] for e in index if e["name"] == "chatml")
    path = write_tiny_gguf(tmp_path / "t.gguf", chat_template=chatml)
    events = statuses(create_model(store, "auto", from_=str(path), templates_dir=conformance_dir))
    assert "using autodetected template chatml" in events
    rec = store.record("auto")
    assert rec.template == (conformance_dir / "chatml.gotmpl").read_text()
    assert rec.parameters["stop"] == ["<|im_start|>", "<|im_end|>"]


@pytest.mark.e2e
def test_gemma_create_show_copy_delete(store, gemma_gguf):
    statuses(create_model(store, "gemma3:270m", from_=str(gemma_gguf)))
    [model] = store.list()
    assert model.name == "gemma3:270m"
    assert model.details.family == "gemma3" and model.details.quantization_level == "Q4_K_M"
    assert model.details.parameter_size == "268.10M"
    info = show_model(store, "gemma3:270m")
    assert info.model_info["general.architecture"] == "gemma3"
    assert "completion" in info.capabilities
    store.copy("gemma3:270m", "g2")
    store.delete("gemma3:270m")
    assert store.has_blob(store.resolve("g2").manifest.layers[0].digest)
    store.delete("g2")
    assert store.list() == []
