"""End to end on the bundled Gemma 3 270M (Q4_K_M): batching, prefix reuse, grammar, seeds, embeddings."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from llama_cpp.llama_grammar import json_schema_to_gbnf

from ollamalib.runner import LoadOptions, Runner, SamplingOptions

pytestmark = pytest.mark.e2e


def turn(text: str) -> str:
    return f"<start_of_turn>user\n{text}<end_of_turn>\n<start_of_turn>model\n"


def run(runner: Runner, prompt: str | list[int], opts: SamplingOptions):
    tokens = runner.tokenize(prompt) if isinstance(prompt, str) else prompt
    seq = runner.submit(tokens, opts)
    text = "".join(p.text for p in seq)
    assert seq.result is not None and seq.result.text == text
    return seq.result


QUESTIONS = ["Why is the sky blue?", "Name the planets.", "Tell me a joke about cats.", "What is 12 times 12?"]


def test_four_concurrent_sequences_match_their_solo_runs(gemma_gguf: Path, gemma_runner: Runner) -> None:
    opts = SamplingOptions(temperature=0, num_predict=24)
    with Runner(gemma_gguf, LoadOptions(num_ctx=2048, num_parallel=1)) as solo:
        alone = [run(solo, turn(q), opts).text for q in QUESTIONS]
    seqs = [gemma_runner.submit(gemma_runner.tokenize(turn(q)), opts) for q in QUESTIONS]
    together: list[str] = [""] * len(seqs)

    def consume(i: int) -> None:
        together[i] = "".join(p.text for p in seqs[i])

    threads = [threading.Thread(target=consume, args=(i,)) for i in range(len(seqs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert together == alone
    assert all(alone)


def test_second_chat_turn_evaluates_only_new_tokens(gemma_runner: Runner) -> None:
    system = "You are a helpful assistant who answers in one short sentence. " * 6
    first = run(gemma_runner, turn(system + "What is the sun?"), SamplingOptions(temperature=0, num_predict=12))
    assert first.prompt_eval_count > 80
    follow = gemma_runner.tokenize("<end_of_turn>\n" + turn("And the moon?"), add_special=False)
    second = run(gemma_runner, first.context + follow, SamplingOptions(temperature=0, num_predict=8))
    assert second.prompt_eval_count == len(follow) + 1


def test_schema_grammar_gives_valid_json(gemma_runner: Runner) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 20}, "age": {"type": "integer"}},
              "required": ["name", "age"]}
    grammar = json_schema_to_gbnf(json.dumps(schema))
    result = run(gemma_runner, turn("Describe a cat as JSON with its name and age."),
                 SamplingOptions(grammar=grammar, temperature=0, num_predict=60))
    value = json.loads(result.text)
    assert result.done_reason == "stop"
    assert set(value) == {"name", "age"} and isinstance(value["age"], int)


def test_seeds(gemma_runner: Runner) -> None:
    def sample(seed: int) -> str:
        return run(gemma_runner, turn("Write a sentence about dragons."),
                   SamplingOptions(temperature=1.0, seed=seed, num_predict=16)).text

    assert sample(11) == sample(11)
    assert sample(11) != sample(12)


def test_stop_string(gemma_runner: Runner) -> None:
    result = run(gemma_runner, turn("Count from one to ten, one number per line."),
                 SamplingOptions(temperature=0, num_predict=40, stop=["\n"]))
    assert "\n" not in result.text
    assert result.done_reason == "stop" and result.eval_count < 40


def test_logprobs(gemma_runner: Runner) -> None:
    seq = gemma_runner.submit(gemma_runner.tokenize(turn("Say hi.")),
                              SamplingOptions(temperature=0, num_predict=4, top_logprobs=5))
    entries = [e for p in seq for e in (p.logprobs or [])]
    assert len(entries) == seq.result.eval_count
    assert all(e["top_logprobs"][0]["token"] == e["token"] and len(e["top_logprobs"]) == 5 for e in entries)


def test_embeddings(gemma_gguf: Path) -> None:
    with Runner(gemma_gguf, LoadOptions(num_ctx=512, embedding=True)) as runner:
        vectors, count = runner.embed(["The cat sat on the mat.", "A dog slept on the rug.", "The cat sat on the mat."])
    assert len(vectors) == 3 and len(vectors[0]) == runner.n_embd == 640
    assert vectors[0] == pytest.approx(vectors[2], abs=1e-4)
    assert count > 10
