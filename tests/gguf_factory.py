"""Write tiny but real GGUF models (llama architecture, SentencePiece-style vocabulary) for tests.

The files load in llama.cpp, tokenize, generate and embed, and are written in a few tens of milliseconds. Two modes:

- random weights (deterministic from ``seed``): a model that babbles; ``endless=True`` also keeps greedy decoding
  from ever picking a control token (end of text, end of turn), so it babbles until ``num_predict``;
- ``script="..."``: weights wired so that the model answers any prompt with exactly that text and then ``</s>``,
  whatever the sampler settings. Each UTF-8 byte of the script is its own private byte token (text ``<0x48>@0``,
  which llama.cpp decodes as the byte 0x48 but never produces when tokenizing), and each one's one-hot embedding
  selects the next, so no prompt can derail it and a multi-byte character always arrives split over several
  tokens. A script holds at most ``n_embd - 1`` bytes.

``write_tiny_bert_gguf`` writes a BERT encoder (WordPiece vocabulary, ``[CLS]``/``[SEP]``), by default a
cross-encoder reranker as bge-reranker and the ms-marco cross-encoders convert: rank pooling and a classifier head.

Import the fixtures into ``conftest.py``: ``from gguf_factory import endless_gguf, tiny_gguf, tiny_gguf_f16, tiny_embed_gguf``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import gguf
import numpy as np
import pytest

__all__ = [
    "BOS",
    "CHATML_TEMPLATE",
    "EOS",
    "IM_END",
    "IM_START",
    "TOOLS_JINJA_TEMPLATE",
    "tiny_bert_rerank_gguf",
    "tiny_bert_vocab",
    "tiny_embed_gguf",
    "tiny_gguf",
    "tiny_gguf_f16",
    "tiny_rerank_gguf",
    "tiny_vocab",
    "write_tensors",
    "write_tiny_bert_gguf",
    "write_tiny_gguf",
]

FileType = Literal["f32", "f16", "bf16"]

BOS, EOS, IM_START, IM_END = "<s>", "</s>", "<|im_start|>", "<|im_end|>"
SPACE = "\u2581"  # SentencePiece's visible space

CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# A tool-capable Jinja template in Qwen 2.5's style (much shorter): tools as JSON in the system turn, calls
# written as <tool_call>\n{"name": ..., "arguments": ...}\n</tool_call>, tool results as <tool_response> turns.
TOOLS_JINJA_TEMPLATE = (
    "{%- if tools %}<|im_start|>system\nYou may call these tools:\n<tools>\n"
    "{%- for tool in tools %}{{ tool | tojson }}\n{%- endfor %}</tools>\n"
    "Call one as <tool_call>\n{\"name\": <name>, \"arguments\": <object>}\n</tool_call><|im_end|>\n{% endif %}"
    "{%- for message in messages %}"
    "{%- if message.role == 'assistant' and message.tool_calls %}<|im_start|>assistant\n"
    "{%- for call in message.tool_calls %}<tool_call>\n"
    "{\"name\": {{ call.function.name | tojson }}, \"arguments\": {{ call.function.arguments | tojson }}}\n"
    "</tool_call>{%- endfor %}<|im_end|>\n"
    "{%- elif message.role == 'tool' %}<|im_start|>user\n<tool_response>\n{{ message.content }}\n"
    "</tool_response><|im_end|>\n"
    "{%- else %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{% endif %}"
    "{%- endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_CONTROL = [("<unk>", gguf.TokenType.UNKNOWN), (BOS, gguf.TokenType.CONTROL), (EOS, gguf.TokenType.CONTROL),
            (IM_START, gguf.TokenType.CONTROL), (IM_END, gguf.TokenType.CONTROL)]
_USER_DEFINED = ["<think>", "</think>", "<tool_call>", "</tool_call>"]
_WORDS = """
the a an and or but if is are was were be been not no yes to of in on at by for with from as it its this that
these those there here I you he she we they me him her us them my your our their what which who why how when where
can could will would should may might do does did done have has had get got make made say said go went see saw
know think want need like use used work find give tell ask try call good bad new old first last long great little
own other right big high small large next early young important few public same able sky blue red green yellow
black white color light day night time year today tomorrow world hello Hello hi Hi model test tests answer question
user assistant system tool tools function name weather city temperature sun rain cat dog one two three four five
six seven eight nine ten hundred thousand because about into over after before again more most some any all each
very just also only well still even now then than so up out down off back way thing things people man woman child
water fire air earth word words sentence story once upon
""".split()


def tiny_vocab() -> tuple[list[str], list[float], list[int]]:
    """The base vocabulary: specials, 256 byte tokens, printable ASCII, common words with their prefixes."""
    tokens: list[str] = []
    scores: list[float] = []
    types: list[int] = []
    seen: set[str] = set()

    def add(piece: str, score: float, kind: int) -> None:
        if piece not in seen:
            seen.add(piece)
            tokens.append(piece)
            scores.append(score)
            types.append(int(kind))

    for piece, kind in _CONTROL:
        add(piece, 0.0, kind)
    for piece in _USER_DEFINED:
        add(piece, 0.0, gguf.TokenType.USER_DEFINED)
    for b in range(256):
        add(f"<0x{b:02X}>", 0.0, gguf.TokenType.BYTE)
    add(SPACE, 1.0, gguf.TokenType.NORMAL)
    for c in range(0x21, 0x7F):
        add(chr(c), 1.0, gguf.TokenType.NORMAL)
    for word in _WORDS:
        form = SPACE + word
        for end in range(2, len(form) + 1):
            add(form[:end], float(end), gguf.TokenType.NORMAL)
    return tokens, scores, types


def write_tiny_gguf(
    path: str | Path,
    *,
    file_type: FileType = "f32",
    arch: str = "llama",
    n_layer: int = 2,
    n_embd: int | None = None,
    n_ctx_train: int = 2048,
    embedding: bool = False,
    chat_template: str | None = None,
    seed: int = 0,
    script: str | None = None,
    endless: bool = False,
    name: str = "tiny-llama",
    extra_metadata: Mapping[str, Any] | None = None,
    classifier_labels: list[str] | None = None,
) -> Path:
    """Write a tiny llama GGUF to ``path`` and return the path.

    ``n_embd`` defaults to 64, or 256 for f16/bf16 so that every matrix row is a multiple of 256 and K-quants
    (q4_K_M, q4_K_S) apply to it for real. ``embedding=True`` sets ``llama.pooling_type`` (mean), which makes it an
    embedding model for Ollama and llama.cpp. ``extra_metadata`` values are typed from Python (bool, int as
    uint32/int64, float as float32, str, lists of those); pass ``(value, gguf.GGUFValueType.X)`` to force a type.

    ``arch="qwen3"`` writes the same network with Qwen3's per-head q/k norms. ``classifier_labels`` (qwen3 only)
    makes it a cross-encoder reranker as llama.cpp loads Qwen3-Reranker with its classifier head: rank pooling
    (``qwen3.pooling_type`` 4), a ``cls.output.weight`` row per label (``qwen3.classifier.output_labels``); llama.cpp
    returns the softmax over the labels of the last token's state, and the first is the relevance score.
    """
    if arch not in ("llama", "qwen3"):
        raise ValueError(f"only the llama and qwen3 architectures are supported, not {arch!r}")
    if classifier_labels is not None and arch != "qwen3":
        raise ValueError("classifier_labels needs arch='qwen3' (llama.cpp loads no classifier head for llama)")
    if file_type not in ("f32", "f16", "bf16"):
        raise ValueError(f"file_type must be f32, f16 or bf16, not {file_type!r}")
    n_embd = n_embd or (64 if file_type == "f32" else 256)
    n_head = 4
    head_dim = n_embd // n_head
    n_head_kv = 2 if n_embd < 256 else 1
    n_ff = 2 * n_embd if n_embd < 256 else n_embd

    tokens, scores, types = tiny_vocab()
    chain: list[int] = []
    if script is not None:
        data = script.encode("utf-8")
        if not data:
            raise ValueError("script is empty")
        if len(data) + 1 > n_embd:
            raise ValueError(f"script has {len(data)} bytes; at most n_embd - 1 = {n_embd - 1} fit")
        # llama.cpp decodes a byte token from characters 3-4 of its text, so "<0x48>@5" is a private "H"
        at = len(_CONTROL) + len(_USER_DEFINED)
        tokens[at:at] = [f"<0x{b:02X}>@{k}" for k, b in enumerate(data)]
        scores[at:at] = [0.0] * len(data)
        types[at:at] = [int(gguf.TokenType.BYTE)] * len(data)
        chain = list(range(at, at + len(data)))
    n_vocab = len(tokens)

    rng = np.random.default_rng(seed)

    def mat(rows: int, cols: int, std: float = 0.08) -> np.ndarray:
        return rng.normal(0.0, std, size=(rows, cols)).astype(np.float32)

    tensors: dict[str, np.ndarray] = {}
    if chain:
        embd = np.zeros((n_vocab, n_embd), np.float32)
        embd[:, 0] = 1.0
        out = np.zeros((n_vocab, n_embd), np.float32)
        previous = 0
        for k, tok in enumerate(chain, start=1):
            embd[tok] = 0.0
            embd[tok, k] = 1.0
            out[tok, previous] = 4.0
            previous = k
        out[tokens.index(EOS), previous] = 4.0
        tensors["token_embd.weight"] = embd
        tensors["output.weight"] = out
    else:
        tensors["token_embd.weight"] = mat(n_vocab, n_embd, 0.02)
        if endless:  # control tokens score 0 while the best of ~900 random logits is positive: greedy never ends
            out = tensors["token_embd.weight"].copy()
            out[:len(_CONTROL)] = 0.0
            tensors["output.weight"] = out
    tensors["output_norm.weight"] = np.ones(n_embd, np.float32)
    for i in range(n_layer):
        p = f"blk.{i}."
        tensors[p + "attn_norm.weight"] = np.ones(n_embd, np.float32)
        tensors[p + "attn_q.weight"] = mat(n_head * head_dim, n_embd)
        tensors[p + "attn_k.weight"] = mat(n_head_kv * head_dim, n_embd)
        tensors[p + "attn_v.weight"] = mat(n_head_kv * head_dim, n_embd)
        tensors[p + "attn_output.weight"] = mat(n_embd, n_head * head_dim) * (0.0 if chain else 1.0)
        tensors[p + "ffn_norm.weight"] = np.ones(n_embd, np.float32)
        tensors[p + "ffn_gate.weight"] = mat(n_ff, n_embd)
        tensors[p + "ffn_up.weight"] = mat(n_ff, n_embd)
        tensors[p + "ffn_down.weight"] = mat(n_embd, n_ff) * (0.0 if chain else 1.0)
        if arch == "qwen3":
            tensors[p + "attn_q_norm.weight"] = np.ones(head_dim, np.float32)
            tensors[p + "attn_k_norm.weight"] = np.ones(head_dim, np.float32)
    if classifier_labels:
        tensors["cls.output.weight"] = mat(len(classifier_labels), n_embd, 1.0)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(path, arch)
    w.add_name(name)
    w.add_file_type({"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
                     "bf16": gguf.LlamaFileType.MOSTLY_BF16}[file_type])
    w.add_context_length(n_ctx_train)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head_kv)
    w.add_rope_dimension_count(head_dim)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(n_vocab)
    if embedding:
        w.add_pooling_type(gguf.PoolingType.MEAN)
    if classifier_labels:
        w.add_pooling_type(gguf.PoolingType.RANK)
        w.add_array(f"{arch}.classifier.output_labels", classifier_labels)
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_unk_token_id(0)
    w.add_bos_token_id(tokens.index(BOS))
    w.add_eos_token_id(tokens.index(EOS))
    w.add_eot_token_id(tokens.index(IM_END))
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    if chat_template is not None:
        w.add_chat_template(chat_template)
    for key, value in (extra_metadata or {}).items():
        _add_value(w, key, value)

    for tname, data in tensors.items():
        if data.ndim == 1 or file_type == "f32":
            w.add_tensor(tname, data)
        elif file_type == "f16":
            w.add_tensor(tname, data.astype(np.float16))
        else:
            raw = gguf.quants.quantize(data, gguf.GGMLQuantizationType.BF16)
            w.add_tensor(tname, raw, raw_shape=raw.shape, raw_dtype=gguf.GGMLQuantizationType.BF16)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
_SUFFIXES = ("s", "es", "ed", "ing", "er", "ly")


def tiny_bert_vocab() -> list[str]:
    """A WordPiece vocabulary as llama.cpp stores BERT's: specials, word starts with the visible space
    (``\u2581the``), continuation pieces bare (HF's ``##s`` is ``s``), single characters of both kinds."""
    tokens = list(BERT_SPECIALS)
    seen = set(tokens)
    pieces = [SPACE + c for c in "abcdefghijklmnopqrstuvwxyz0123456789.,;:!?'\"()-"]
    pieces += list("abcdefghijklmnopqrstuvwxyz0123456789") + list(_SUFFIXES)
    pieces += [SPACE + w.lower() for w in _WORDS]
    for piece in pieces:
        if piece not in seen:
            seen.add(piece)
            tokens.append(piece)
    return tokens


def write_tiny_bert_gguf(
    path: str | Path,
    *,
    n_layer: int = 2,
    n_embd: int = 64,
    n_ctx_train: int = 512,
    seed: int = 0,
    name: str = "tiny-bert-reranker",
    rerank: bool = True,
    eos: bool = True,
) -> Path:
    """Write a tiny f32 BERT GGUF with the tensors and keys llama.cpp's BERT loader reads (models/bert.cpp).

    ``rerank=True``: a cross-encoder as convert_hf_to_gguf writes bge-reranker: rank pooling (``bert.pooling_type``
    4), a ``cls`` dense layer (tanh) and a one-row ``cls.output`` (``bert.classifier.output_labels`` = ["LABEL_0"]):
    llama.cpp's score is that one output for the ``[CLS]`` token. ``rerank=False``: an embedding model with CLS
    pooling (bge-small's shape). The vocabulary is converted BERT's: ``[CLS]`` is BOS and ``[SEP]`` EOS and SEP,
    BOS and EOS added, SEP not (the tokenizer's pair template ``[CLS] A [SEP] B [SEP]`` read by gguf-py's
    SpecialVocab), so llama-server's rerank pair is ``[CLS] query [SEP] document [SEP]``. ``eos=False`` leaves
    the EOS id out (llama.cpp's BERT default is none) while still adding it: llama-server's pair then puts SEP
    where EOS goes.
    """
    tokens = tiny_bert_vocab()
    n_vocab, n_head, n_ff = len(tokens), 4, 2 * n_embd
    rng = np.random.default_rng(seed)

    def mat(*shape: int, std: float = 0.1) -> np.ndarray:
        return rng.normal(0.0, std, size=shape).astype(np.float32)

    def norm(prefix: str) -> None:
        tensors[prefix + ".weight"] = np.ones(n_embd, np.float32)
        tensors[prefix + ".bias"] = np.zeros(n_embd, np.float32)

    tensors: dict[str, np.ndarray] = {
        "token_embd.weight": mat(n_vocab, n_embd, std=0.5),
        "token_types.weight": mat(2, n_embd),
        "position_embd.weight": mat(n_ctx_train, n_embd),
    }
    norm("token_embd_norm")
    for i in range(n_layer):
        p = f"blk.{i}."
        for part in ("attn_q", "attn_k", "attn_v", "attn_output"):
            tensors[p + part + ".weight"] = mat(n_embd, n_embd, std=0.2)
            tensors[p + part + ".bias"] = mat(n_embd, std=0.02)
        norm(p + "attn_output_norm")
        tensors[p + "ffn_up.weight"] = mat(n_ff, n_embd, std=0.2)
        tensors[p + "ffn_up.bias"] = mat(n_ff, std=0.02)
        tensors[p + "ffn_down.weight"] = mat(n_embd, n_ff, std=0.2)
        tensors[p + "ffn_down.bias"] = mat(n_embd, std=0.02)
        norm(p + "layer_output_norm")
    if rerank:
        tensors["cls.weight"] = mat(n_embd, n_embd, std=0.3)
        tensors["cls.bias"] = mat(n_embd, std=0.05)
        tensors["cls.output.weight"] = mat(1, n_embd, std=1.0)
        tensors["cls.output.bias"] = np.zeros(1, np.float32)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(path, "bert")
    w.add_name(name)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_context_length(n_ctx_train)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_layer_norm_eps(1e-12)
    w.add_causal_attention(False)
    w.add_pooling_type(gguf.PoolingType.RANK if rerank else gguf.PoolingType.CLS)
    if rerank:
        w.add_classifier_output_labels(["LABEL_0"])
    w.add_tokenizer_model("bert")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types([int(gguf.TokenType.CONTROL if t in BERT_SPECIALS else gguf.TokenType.NORMAL) for t in tokens])
    w.add_token_type_count(2)
    pad, unk, cls, sep, mask = (tokens.index(t) for t in BERT_SPECIALS)
    w.add_bos_token_id(cls)
    if eos:
        w.add_eos_token_id(sep)
    w.add_unk_token_id(unk)
    w.add_sep_token_id(sep)
    w.add_pad_token_id(pad)
    w.add_mask_token_id(mask)
    w.add_add_bos_token(True)
    w.add_add_eos_token(True)
    w.add_add_sep_token(False)
    write_tensors(w, tensors)
    return path


def write_tensors(w: gguf.GGUFWriter, tensors: Mapping[str, np.ndarray]) -> None:
    """Add ``tensors`` (in their numpy dtypes) and write the file out: header, metadata, tensor data."""
    for tname, data in tensors.items():
        w.add_tensor(tname, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def _add_value(w: gguf.GGUFWriter, key: str, value: Any) -> None:
    if isinstance(value, tuple):
        value, vtype = value
        if vtype == gguf.GGUFValueType.ARRAY:
            w.add_array(key, value)
        else:
            w.add_key_value(key, value, vtype)
    elif isinstance(value, bool):
        w.add_bool(key, value)
    elif isinstance(value, int):
        if 0 <= value < 2**32:
            w.add_uint32(key, value)
        else:
            w.add_int64(key, value)
    elif isinstance(value, float):
        w.add_float32(key, value)
    elif isinstance(value, str):
        w.add_string(key, value)
    elif isinstance(value, (list, tuple)):
        w.add_array(key, value)
    else:
        raise TypeError(f"cannot write {type(value).__name__} metadata for {key!r}")


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny f32 llama chat model (ChatML template, random weights)."""
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny-f32.gguf", chat_template=CHATML_TEMPLATE)


@pytest.fixture(scope="session")
def endless_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny chat model that never ends on its own under greedy decoding: streams until ``num_predict``."""
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "endless.gguf", chat_template=CHATML_TEMPLATE,
                           endless=True, n_ctx_train=8192)


@pytest.fixture(scope="session")
def tiny_gguf_f16(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny f16 llama model with 256-wide rows, so K-quant quantization really applies."""
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny-f16.gguf", file_type="f16",
                           chat_template=CHATML_TEMPLATE)


@pytest.fixture(scope="session")
def tiny_embed_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny f32 embedding model (``llama.pooling_type`` = mean)."""
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny-embed.gguf", embedding=True, name="tiny-embed")


@pytest.fixture(scope="session")
def tiny_rerank_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny f32 cross-encoder reranker (qwen3 with rank pooling and a yes/no classifier head)."""
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny-rerank.gguf", arch="qwen3",
                           classifier_labels=["yes", "no"], name="tiny-reranker", seed=3)


@pytest.fixture(scope="session")
def tiny_bert_rerank_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny f32 BERT cross-encoder reranker (rank pooling, a one-output classifier head; bge-reranker's shape)."""
    return write_tiny_bert_gguf(tmp_path_factory.mktemp("gguf") / "tiny-bert-rerank.gguf", seed=5)
