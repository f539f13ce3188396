"""Token ids from callers are checked against the vocabulary before llama.cpp sees them (it aborts on bad ids)."""

from __future__ import annotations

import pytest

from ollamalib.errors import InvalidOptionError
from ollamalib.runner import Runner, SamplingOptions

BAD_IDS = [-1, -(2**31), 10**6, 2**40, 2**70, True, 1.5, "3"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_detokenize_refuses_ids_outside_the_vocabulary(script_runner: Runner, bad):
    with pytest.raises(InvalidOptionError, match=r"^invalid token .* in context: the model's token ids are 0 to \d+$"):
        script_runner.detokenize([5, bad])


@pytest.mark.parametrize("bad", [-1, 2**40])
def test_submit_and_token_bytes_refuse_bad_ids(script_runner: Runner, bad):
    with pytest.raises(InvalidOptionError, match="the prompt"):
        script_runner.submit([script_runner.bos_id, bad], SamplingOptions(num_predict=1))
    with pytest.raises(InvalidOptionError):
        script_runner.token_bytes(bad)


def test_the_last_id_is_valid_and_the_runner_keeps_working(script_runner: Runner):
    last = script_runner.n_vocab - 1
    assert script_runner.check_tokens([0, last]) == [0, last]
    with pytest.raises(InvalidOptionError, match=f"0 to {last}$"):
        script_runner.check_tokens([last + 1])
    assert isinstance(script_runner.detokenize([last]), str)
    pieces = list(script_runner.submit(script_runner.tokenize("hi"), SamplingOptions(num_predict=2)))
    assert pieces[-1].done and pieces[-1].eval_count >= 1


def test_long_texts_with_special_tokens_tokenize_in_chunks_to_the_same_ids(babble_runner: Runner, monkeypatch):
    import random

    from ollamalib.runner import _llama

    pieces = ["<|im_start|>", "<|im_end|>", "<s>", "</s>", "<think>", "</think>", "<unk>", "user", "\n", " ", "  ",
              "hello", " world", "é", "日本", "<", "|", "im_", "start|>", "<|im", "\t", "the sky", "0x48"]
    rng = random.Random(12)
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(50, 400))) for _ in range(60)]
    texts.append("<|im_start|>user\nhello<|im_end|>\n" * 300)
    model = babble_runner._model
    whole = [model._tokenize(t, True, True) for t in texts]
    monkeypatch.setattr(_llama, "_CHUNK_CHARS", 40)
    assert len(model._chunks(texts[-1])) > 100
    for text, expected in zip(texts, whole):
        assert model.tokenize(text, True, True) == expected, text
