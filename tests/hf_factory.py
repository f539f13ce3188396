"""Tiny random Hugging Face models saved as safetensors (Llama, Qwen2, Gemma 3) and a PEFT LoRA, in seconds.

They share one small SentencePiece tokenizer trained here, so llama.cpp and transformers see the same token ids.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import sentencepiece as spm
import torch
from transformers import (
    Gemma3ForCausalLM,
    Gemma3TextConfig,
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
)

VOCAB = 320
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
_CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "hello world",
    "why is the sky blue",
    "paris is the capital of france",
] * 50
_SHAPE = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=256, bos_token_id=1, eos_token_id=2)


def write_tokenizer(directory: Path) -> None:
    """A 320-piece BPE SentencePiece tokenizer with byte fallback, plus tokenizer_config.json."""
    directory.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_CORPUS), model_writer=buf, vocab_size=VOCAB, model_type="bpe",
        character_coverage=1.0, byte_fallback=True, bos_id=1, eos_id=2, unk_id=0, pad_id=-1,
        hard_vocab_limit=False, minloglevel=2,
    )
    (directory / "tokenizer.model").write_bytes(buf.getvalue())
    config = {"bos_token": "<s>", "eos_token": "</s>", "add_bos_token": True, "chat_template": CHAT_TEMPLATE}
    (directory / "tokenizer_config.json").write_text(json.dumps(config))


def write_hf_model(directory: Path, kind: str, tokenizer_from: Path, *, shard: bool = False) -> Path:
    """Save a tiny random ``kind`` ("llama", "qwen2", "gemma3") model with the tokenizer in ``tokenizer_from``."""
    torch.manual_seed({"llama": 0, "qwen2": 1, "gemma3": 2}[kind])
    if kind == "llama":
        model = LlamaForCausalLM(LlamaConfig(vocab_size=VOCAB, **_SHAPE))
    elif kind == "qwen2":
        model = Qwen2ForCausalLM(Qwen2Config(vocab_size=VOCAB, tie_word_embeddings=True, **_SHAPE))
    else:  # llama.cpp scales Gemma 3 queries by 1/sqrt(head_dim), so the config says the same
        model = Gemma3ForCausalLM(Gemma3TextConfig(vocab_size=VOCAB, head_dim=16, query_pre_attn_scalar=16,
                                                   sliding_window=32, **_SHAPE))
    directory.mkdir(parents=True, exist_ok=True)
    model.eval().save_pretrained(directory, max_shard_size="100KB" if shard else "5GB")
    for name in ("tokenizer.model", "tokenizer_config.json"):
        shutil.copy(tokenizer_from / name, directory / name)
    return directory


def write_lora(base: Path, directory: Path) -> Path:
    """A PEFT LoRA (rank 4, on q_proj and v_proj, random A and B) for the model saved at ``base``."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(3)
    model = LlamaForCausalLM.from_pretrained(base)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    peft_model = get_peft_model(model, config)
    with torch.no_grad():  # large enough to move the logits well past float noise
        for name, p in peft_model.named_parameters():
            if "lora_" in name:
                p.mul_(4.0)
    peft_model.save_pretrained(directory)
    return directory


def hf_logits(directory: Path, ids: list[int], *, lora: Path | None = None) -> list[float]:
    """transformers' last-position logits for ``ids`` (with ``lora`` merged into the weights when given)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(directory).eval()
    if lora is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, lora).merge_and_unload().eval()
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0, -1].tolist()
