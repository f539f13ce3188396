"""Generation on tiny real GGUF models: options, stops, UTF-8, seeds, cancellation, batching, prefix reuse, shifts."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from runner_models import SCRIPT, write_lora
from llama_cpp.llama_grammar import JSON_GBNF, json_schema_to_gbnf

from ollamalib.errors import ContextLengthError, InvalidOptionError, RequestCancelledError
from ollamalib.runner import PROMPT_TOO_LONG, LoadOptions, Piece, Runner, RunnerError, SamplingOptions, truncate_prompt

REPO = Path(__file__).resolve().parents[2]
GREEDY = SamplingOptions(temperature=0)


def collect(seq) -> tuple[list[Piece], str]:
    pieces = list(seq)
    return pieces, "".join(p.text for p in pieces)


def generate(runner: Runner, prompt: str, opts: SamplingOptions = GREEDY, **kw) -> str:
    return collect(runner.submit(runner.tokenize(prompt), opts, **kw))[1]


# -- the scripted model: exact text, stops, UTF-8 -------------------------------------------------------------


def test_scripted_answer_ends_with_stop(script_runner: Runner) -> None:
    seq = script_runner.submit(script_runner.tokenize("hi"), SamplingOptions(temperature=1.5, seed=3))
    pieces, text = collect(seq)
    assert text == SCRIPT
    final = pieces[-1]
    assert final.done and final.done_reason == "stop"
    assert all(not p.done for p in pieces[:-1])
    assert seq.result is not None and seq.result.text == SCRIPT and seq.result.done_reason == "stop"
    assert final.eval_count == len(SCRIPT.encode()) + 1  # every byte token, then the end-of-generation token
    assert final.prompt_eval_count > 0 and final.prompt_eval_duration_ns > 0 and final.eval_duration_ns > 0
    assert final.context == script_runner.tokenize("hi") + seq.result.tokens


def test_pieces_never_split_utf8(script_runner: Runner) -> None:
    pieces, text = collect(script_runner.submit(script_runner.tokenize("hi"), GREEDY))
    assert text == SCRIPT
    multi = [p for p in pieces if len(p.tokens) > 1]
    assert {p.text for p in multi} >= {"é", "ö", "日", "本", "😀"}
    assert all("\ufffd" not in p.text for p in pieces)
    assert sum(len(p.tokens) for p in pieces) == len(SCRIPT.encode())


@pytest.mark.parametrize(
    ("stops", "expected"),
    [
        (["STOP"], "Héllo wörld! "),
        (["ld! ST"], "Héllo wör"),  # spans several tokens
        (["ö"], "Héllo w"),  # a stop that is itself split over two byte tokens
        (["wörx", "日本 😀"], "Héllo wörld! STOP here "),  # a partial match that fails is released in order
        (["nothing like it"], SCRIPT),
        (["Hé"], ""),
    ],
)
def test_stop_strings_never_leak(script_runner: Runner, stops: list[str], expected: str) -> None:
    seq = script_runner.submit(script_runner.tokenize("hi"), SamplingOptions(stop=stops))
    emitted = ""
    for piece in seq:
        emitted += piece.text
        assert expected.startswith(emitted), f"leaked {emitted!r}"
    assert emitted == expected
    assert seq.result.done_reason == "stop"
    assert seq.result.text == expected


def test_stop_trims_context(script_runner: Runner) -> None:
    prompt = script_runner.tokenize("hi")
    seq = script_runner.submit(prompt, SamplingOptions(stop=["STOP"]))
    collect(seq)
    generated = seq.result.context[len(prompt):]
    assert script_runner.detokenize(generated) == "Héllo wörld! "


def test_num_predict_gives_length(script_runner: Runner) -> None:
    seq = script_runner.submit(script_runner.tokenize("hi"), SamplingOptions(num_predict=5))
    pieces, text = collect(seq)
    assert text == "Héll"  # "é" is two tokens
    assert pieces[-1].done_reason == "length" and pieces[-1].eval_count == 5


def test_num_predict_zero_generates_nothing(script_runner: Runner) -> None:
    pieces, text = collect(script_runner.submit(script_runner.tokenize("hi"), SamplingOptions(num_predict=0)))
    assert text == "" and pieces[-1].done_reason == "length" and pieces[-1].eval_count == 0


def test_logprobs_shape(script_runner: Runner) -> None:
    seq = script_runner.submit(script_runner.tokenize("hi"), SamplingOptions(logprobs=True, top_logprobs=3))
    pieces, _ = collect(seq)
    entries = [e for p in pieces for e in (p.logprobs or [])]
    assert len(entries) == len(SCRIPT.encode())  # one per generated token (not the end token)
    for entry in entries:
        assert set(entry) == {"token", "logprob", "bytes", "top_logprobs"}
        assert entry["logprob"] <= 0 and len(entry["bytes"]) == 1
        top = entry["top_logprobs"]
        assert len(top) == 3 and [t["logprob"] for t in top] == sorted((t["logprob"] for t in top), reverse=True)
        assert top[0]["bytes"] == entry["bytes"] and math.isclose(top[0]["logprob"], entry["logprob"])
        assert sum(math.exp(t["logprob"]) for t in top) <= 1.0 + 1e-6
    assert bytes(b for e in entries for b in e["bytes"]).decode() == SCRIPT
    assert seq.result.logprobs == entries


def test_a_sequence_is_iterated_once(script_runner: Runner) -> None:
    seq = script_runner.submit(script_runner.tokenize("hi"), GREEDY)
    assert collect(seq)[1] == SCRIPT
    with pytest.raises(RuntimeError, match="once"):
        list(seq)


def test_logprobs_absent_unless_asked(script_runner: Runner) -> None:
    pieces, _ = collect(script_runner.submit(script_runner.tokenize("hi"), GREEDY))
    assert all(p.logprobs is None for p in pieces)


def test_async_iteration_does_not_block_the_event_loop(script_runner: Runner) -> None:
    async def main() -> tuple[str, int]:
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        text = ""
        async for piece in script_runner.submit(script_runner.tokenize("hi"), GREEDY):
            text += piece.text
        done.set()
        await task
        return text, ticks

    text, ticks = asyncio.run(main())
    assert text == SCRIPT and ticks > 10


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_grammar_output_parses_as_json(babble_runner: Runner, temperature: float) -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}, "n": {"type": "integer"}},
              "required": ["ok", "n"]}
    grammar = json_schema_to_gbnf(json.dumps(schema))
    seq = babble_runner.submit(babble_runner.tokenize("hi"),
                               SamplingOptions(grammar=grammar, temperature=temperature, seed=5, num_predict=200))
    value = json.loads(collect(seq)[1])
    assert seq.result.done_reason == "stop"  # the grammar allows the end token only once the object is complete
    assert isinstance(value["ok"], bool) and isinstance(value["n"], int)


def test_generic_json_grammar(babble_runner: Runner) -> None:
    seq = babble_runner.submit(babble_runner.tokenize("hi"), SamplingOptions(grammar=JSON_GBNF, temperature=0,
                                                                             num_predict=200))
    assert isinstance(json.loads(collect(seq)[1]), (dict, list))


def test_invalid_grammar_is_refused(script_runner: Runner) -> None:
    with pytest.raises(Exception, match="grammar"):
        script_runner.submit(script_runner.tokenize("hi"), SamplingOptions(grammar="root ::= ("))


# -- the babbling model: sampling options, seeds, batching ---------------------------------------------------


def test_greedy_ignores_seed(babble_runner: Runner) -> None:
    a = generate(babble_runner, "hello world", SamplingOptions(temperature=0, seed=1, num_predict=30))
    b = generate(babble_runner, "hello world", SamplingOptions(temperature=0, seed=2, num_predict=30))
    assert a == b and a


def test_fixed_seed_repeats_and_seeds_differ(babble_runner: Runner) -> None:
    def run(seed: int | None) -> str:
        return generate(babble_runner, "the sky", SamplingOptions(temperature=1.5, top_k=0, top_p=1.0, seed=seed,
                                                                  num_predict=30))

    assert run(42) == run(42)
    assert len({run(42), run(43), run(-1), run(None)}) == 4


_SEED_SCRIPT = """
import sys
sys.path.insert(0, {repo!r})
from ollamalib.runner import Runner, LoadOptions, SamplingOptions
with Runner({model!r}, LoadOptions(num_ctx=128, num_parallel=1)) as r:
    seq = r.submit(r.tokenize("the sky"), SamplingOptions(temperature=1.5, top_k=0, top_p=1.0, seed={seed},
                                                          num_predict=30))
    print("".join(p.text for p in seq).encode().hex())
"""


def _in_subprocess(model: Path, seed: int) -> str:
    code = _SEED_SCRIPT.format(repo=str(REPO), model=str(model), seed=seed)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.strip()


def test_seed_across_processes(babble_gguf: Path) -> None:
    assert _in_subprocess(babble_gguf, 1234) == _in_subprocess(babble_gguf, 1234)
    assert _in_subprocess(babble_gguf, -1) != _in_subprocess(babble_gguf, -1)


@pytest.mark.parametrize(
    "opts",
    [
        SamplingOptions(),
        SamplingOptions(top_k=1),
        SamplingOptions(top_k=0, top_p=0.5),
        SamplingOptions(min_p=0.2),
        SamplingOptions(typical_p=0.5),
        SamplingOptions(repeat_penalty=1.5, repeat_last_n=-1),
        SamplingOptions(repeat_penalty=1.5, repeat_last_n=0),
        SamplingOptions(presence_penalty=1.0, frequency_penalty=1.0),
        SamplingOptions(seed=7, num_keep=0),
        SamplingOptions(num_keep=-1, stop=["zzz"]),
        SamplingOptions(temperature=2.0, logprobs=True),
    ],
)
def test_every_option_is_accepted(babble_runner: Runner, opts: SamplingOptions) -> None:
    opts.num_predict = 12
    seq = babble_runner.submit(babble_runner.tokenize("hello"), opts)
    pieces = list(seq)
    assert pieces[-1].done and seq.result.eval_count <= 12


def test_repeat_penalty_changes_greedy_output(babble_runner: Runner) -> None:
    plain = generate(babble_runner, "hello", SamplingOptions(temperature=0, num_predict=40))
    penalised = generate(babble_runner, "hello", SamplingOptions(temperature=0, repeat_penalty=3.0, num_predict=40))
    assert plain != penalised


def test_top_k_one_equals_greedy(babble_runner: Runner) -> None:
    greedy = generate(babble_runner, "what is", SamplingOptions(temperature=0, num_predict=25))
    top1 = generate(babble_runner, "what is", SamplingOptions(temperature=1.0, top_k=1, seed=9, num_predict=25))
    assert greedy == top1


PROMPTS = ["hello world", "the sky is blue because", "one two three four", "tell me a story about a cat",
           "what is the weather", "water fire air earth"]


def test_concurrent_sequences_match_solo_runs(babble_gguf: Path) -> None:
    opts = SamplingOptions(temperature=0, num_predict=40)
    with Runner(babble_gguf, LoadOptions(num_ctx=256, num_parallel=4)) as solo:
        alone = [generate(solo, p, opts) for p in PROMPTS]
    with Runner(babble_gguf, LoadOptions(num_ctx=256, num_parallel=4)) as shared:
        seqs = [shared.submit(shared.tokenize(p), opts) for p in PROMPTS]  # 4 run, 2 wait for a slot
        results: list[str | None] = [None] * len(PROMPTS)

        def consume(i: int) -> None:
            results[i] = collect(seqs[i])[1]

        threads = [threading.Thread(target=consume, args=(i,)) for i in range(len(PROMPTS))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stats = shared.stats()
    assert results == alone
    assert stats.busy_slots_per_decode > 2  # they really were decoded together


def test_submit_from_many_threads(babble_runner: Runner) -> None:
    outputs: list[str] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        text = generate(babble_runner, f"one two {i}", SamplingOptions(temperature=0, num_predict=8))
        with lock:
            outputs.append(text)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outputs) == 12


# -- slots: cancellation, queueing, close -------------------------------------------------------------------


def _wait(predicate, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.002)
    return predicate()


def test_cancel_frees_the_slot_within_a_token(babble_gguf: Path) -> None:
    with Runner(babble_gguf, LoadOptions(num_ctx=4096, num_parallel=1)) as runner:
        endless = SamplingOptions(temperature=1.0, seed=1, num_predict=100_000)
        first = runner.submit(runner.tokenize("hello"), endless)
        waiting = runner.submit(runner.tokenize("world"), SamplingOptions(temperature=0, num_predict=5))
        it = iter(first)
        next(it)
        assert runner.stats().queued == 1
        first.cancel()
        predicted = runner.stats().tokens_predicted_total
        assert _wait(lambda: waiting.result is not None or runner.stats().queued == 0)
        assert runner.stats().tokens_predicted_total - predicted <= 2 + 5
        with pytest.raises(RequestCancelledError):
            list(it)
        assert collect(waiting)[0][-1].done
        assert first.result is None


def test_breaking_out_cancels(babble_gguf: Path) -> None:
    with Runner(babble_gguf, LoadOptions(num_ctx=4096, num_parallel=1)) as runner:
        seq = runner.submit(runner.tokenize("hello"), SamplingOptions(seed=1, num_predict=100_000))
        for _ in seq:
            break
        assert seq.cancelled
        assert _wait(lambda: runner.stats().slots_in_use == 0)
        after = generate(runner, "hello", SamplingOptions(temperature=0, num_predict=3))
        assert isinstance(after, str)


def _slot_of(runner: Runner, seq) -> int:
    slots = [s.index for s in runner._loop.slots if s.job is not None and s.job.seq is seq]
    assert len(slots) == 1
    return slots[0]


def test_busy_slots_stay_consecutive(babble_gguf: Path) -> None:
    # With a split KV cache llama.cpp decodes only consecutive sequence ids in one graph, so a new request goes
    # next to the busy slots rather than to the least recently used one when no long cached prefix says otherwise.
    with Runner(babble_gguf, LoadOptions(num_ctx=4096, num_parallel=4)) as runner:
        endless = SamplingOptions(temperature=1.0, seed=1, num_predict=100_000)
        short = SamplingOptions(temperature=0, num_predict=12)
        first = runner.submit(runner.tokenize("alpha"), short)  # slots 0, 1, 2 in order of arrival
        busy = runner.submit(runner.tokenize("bravo"), endless)
        third = runner.submit(runner.tokenize("charlie"), short)
        it = iter(busy)
        next(it)
        collect(first)
        collect(third)  # slot 3 was never used: least recently used, but not next to slot 1
        assert _slot_of(runner, busy) == 1 and runner.stats().slots_in_use == 1
        late = runner.submit(runner.tokenize("delta"), endless)
        late_it = iter(late)
        next(late_it)
        assert _slot_of(runner, late) in (0, 2)
        late.cancel()
        busy.cancel()


def test_short_prompts_arriving_together_start_generating_together(babble_gguf: Path) -> None:
    # Prompt work per step is bounded in tokens: four short prompts are all read before the first generation
    # step, so every step decodes all four (4 prompt reads + 5 steps), not one more sequence per step (12).
    with Runner(babble_gguf, LoadOptions(num_ctx=256, num_parallel=4)) as runner:
        opts = SamplingOptions(temperature=0, num_predict=6)
        calls = runner.stats().decode_calls_total
        with runner._loop._cond:  # hold the decode thread so that all four are admitted in one turn
            seqs = [runner.submit(runner.tokenize(p), opts) for p in PROMPTS[:4]]
        texts = [collect(s)[1] for s in seqs]
        assert runner.stats().decode_calls_total - calls == 4 + 5
        assert all(s.result is not None and s.result.eval_count == 6 for s in seqs) and all(texts)


def test_cached_prompts_arriving_together_join_one_decode(babble_gguf: Path) -> None:
    # A prompt cached but for its last token is read as a row of the generation step: four of them arriving
    # together take one decode, not four, then one decode per step; each generates what it does alone.
    with Runner(babble_gguf, LoadOptions(num_ctx=256, num_parallel=4)) as runner:
        opts = SamplingOptions(temperature=0, num_predict=6)
        with runner._loop._cond:  # four slots, each left holding one prompt
            first = [runner.submit(runner.tokenize(p), opts) for p in PROMPTS[:4]]
        before = [collect(s)[1] for s in first]
        calls = runner.stats().decode_calls_total
        with runner._loop._cond:  # hold the decode thread so that all four are admitted in one turn
            seqs = [runner.submit(runner.tokenize(p), opts) for p in PROMPTS[:4]]
        texts = [collect(s)[1] for s in seqs]
        assert runner.stats().decode_calls_total - calls == 1 + 5
        assert texts == before == [generate(runner, p, opts) for p in PROMPTS[:4]]
        assert all(s.result is not None and s.result.prompt_eval_count == 1 and s.result.eval_count == 6 for s in seqs)


def test_a_cached_prompt_joins_the_generating_sequences(babble_gguf: Path) -> None:
    # A newcomer whose prompt is cached costs the sequences already generating no decode of its own.
    with Runner(babble_gguf, LoadOptions(num_ctx=256, num_parallel=2)) as runner:
        opts = SamplingOptions(temperature=0, num_predict=6)
        alone = collect(runner.submit(runner.tokenize(PROMPTS[1]), opts))[1]
        busy = runner.submit(runner.tokenize(PROMPTS[0]), SamplingOptions(temperature=0, num_predict=10_000))
        it = iter(busy)
        next(it)
        read = runner.stats().prompt_seconds_total  # time in decodes that read prompts and generated nothing
        late = runner.submit(runner.tokenize(PROMPTS[1]), opts)
        text = collect(late)[1]
        busy.cancel()
        assert text == alone and late.result is not None and late.result.prompt_eval_count == 1
        assert runner.stats().prompt_seconds_total == read


def test_runs_of_consecutive_ids() -> None:
    from ollamalib.runner._loop import _runs

    assert [_runs(set()), _runs({3}), _runs({0, 1, 2}), _runs({0, 1, 3}), _runs({0, 2, 4, 5})] == [0, 1, 1, 2, 3]


def test_cancel_while_queued(babble_gguf: Path) -> None:
    with Runner(babble_gguf, LoadOptions(num_ctx=4096, num_parallel=1)) as runner:
        busy = runner.submit(runner.tokenize("hello"), SamplingOptions(seed=1, num_predict=100_000))
        running = iter(busy)
        next(running)
        queued = runner.submit(runner.tokenize("world"), GREEDY)
        assert runner.stats().queued == 1
        queued.cancel()
        assert runner.stats().queued == 0
        with pytest.raises(RequestCancelledError):
            list(queued)
        busy.cancel()


def test_close_fails_pending_sequences(babble_gguf: Path) -> None:
    runner = Runner(babble_gguf, LoadOptions(num_ctx=4096, num_parallel=1))
    running = runner.submit(runner.tokenize("hello"), SamplingOptions(seed=1, num_predict=100_000))
    waiting = [runner.submit(runner.tokenize(f"w{i}"), GREEDY) for i in range(3)]
    streaming = iter(running)
    next(streaming)
    runner.close()
    runner.close()  # idempotent
    for stream in [streaming, *(iter(w) for w in waiting)]:
        with pytest.raises(RunnerError, match="closed"):
            list(stream)
    assert not running.cancelled
    with pytest.raises(RunnerError, match="closed"):
        runner.submit([1, 2, 3], GREEDY)


# -- prompts: prefix reuse, truncation, context shift --------------------------------------------------------


def test_prefix_reuse_evaluates_only_new_tokens(babble_gguf: Path) -> None:
    with Runner(babble_gguf, LoadOptions(num_ctx=512, num_parallel=2)) as runner:
        system = runner.tokenize("you are a tool that tells the weather of the city " * 4)
        first = runner.submit(system, SamplingOptions(temperature=0, num_predict=6))
        collect(first)
        assert first.result.prompt_eval_count == len(system)
        other = runner.submit(runner.tokenize("water fire air"), SamplingOptions(temperature=0, num_predict=3))
        collect(other)
        # the next turn: the previous context plus a new message; it lands on the slot that holds the prefix
        new = runner.tokenize(" what is the weather", add_special=False)
        second = runner.submit(first.result.context + new, SamplingOptions(temperature=0, num_predict=4))
        collect(second)
        assert second.result.prompt_eval_count == len(new) + 1  # the last generated token was never fed back
        assert sorted(runner.stats().slot_cached_tokens)[0] > 0  # the other slot kept its prefix



def test_a_fully_cached_seeded_prompt_rereads_its_last_chunk(babble_gguf: Path) -> None:
    with Runner(babble_gguf, LoadOptions(num_ctx=512, num_batch=16, num_parallel=1)) as runner:
        prompt = runner.tokenize("you are a tool that tells the weather of the city " * 4)
        assert len(prompt) > 32
        opts = SamplingOptions(temperature=1.0, seed=3, num_predict=8)
        first = runner.submit(prompt, opts)
        collect(first)
        again = runner.submit(prompt, opts)
        collect(again)
        # a seeded sampled request replays exactly: its last chunk is read in the same batch shape as the first
        # time, hence the same logits and the same seeded draws (other requests evaluate one token)
        assert again.result.prompt_eval_count == len(prompt) - (len(prompt) - 1) // 16 * 16
        assert again.result.text == first.result.text


def test_truncate_prompt_matches_ollama() -> None:
    tokens = list(range(100))
    cut = truncate_prompt(tokens, 64, 5)
    assert len(cut) == 64 - (64 - 5) // 2
    assert cut[:5] == tokens[:5] and cut[5:] == tokens[100 - (len(cut) - 5):]
    assert truncate_prompt(tokens[:63], 64, 5) == tokens[:63]


def test_long_prompt_is_truncated_or_refused(babble_gguf: Path) -> None:
    with Runner(babble_gguf, LoadOptions(num_ctx=64, num_parallel=1)) as runner:
        long = runner.tokenize("one two three four five six seven eight nine ten " * 12)
        assert len(long) > 64
        seq = runner.submit(long, SamplingOptions(temperature=0, num_predict=3, num_keep=4))
        collect(seq)
        assert seq.result.prompt_eval_count == 64 - (64 - 5) // 2  # num_keep + BOS kept, half the window free
        assert seq.result.context[: len(long)] == long
        for kwargs in ({"shift": False}, {"truncate": False}):
            with pytest.raises(ContextLengthError) as err:
                runner.submit(long, GREEDY, **kwargs)
            assert str(err.value) == PROMPT_TOO_LONG
            assert err.value.status_code == 400


def test_context_shift_keeps_generating(babble_gguf: Path) -> None:
    with Runner(babble_gguf, LoadOptions(num_ctx=64, num_parallel=1)) as runner:
        assert runner.can_shift
        prompt = runner.tokenize("hello world")
        seq = runner.submit(prompt, SamplingOptions(temperature=0, num_predict=150))
        collect(seq)
        assert seq.result.done_reason == "length" and seq.result.eval_count == 150
        assert max(runner.stats().slot_cached_tokens) <= 64
        stuck = runner.submit(prompt, SamplingOptions(temperature=0, num_predict=150), shift=False)
        collect(stuck)
        assert stuck.result.done_reason == "length"
        assert stuck.result.eval_count == 64 - len(prompt) + 1
        full = runner.submit(prompt, SamplingOptions(temperature=0, num_predict=-2))
        collect(full)
        assert full.result.done_reason == "length" and full.result.eval_count == 64 - len(prompt) + 1


def test_num_batch_chunks_long_prompts(babble_gguf: Path) -> None:
    with Runner(babble_gguf, LoadOptions(num_ctx=256, num_batch=16, num_parallel=2)) as runner:
        prompt = runner.tokenize("one two three four five six seven eight nine ten " * 4)
        seq = runner.submit(prompt, SamplingOptions(temperature=0, num_predict=5))
        collect(seq)
        assert seq.result.prompt_eval_count == len(prompt) > 16


# -- loading -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        LoadOptions(flash_attention=True, kv_cache_type="q8_0"),
        LoadOptions(flash_attention=False, kv_cache_type="q8_0"),
        LoadOptions(use_mmap=False, num_thread=1, num_gpu=0),
        LoadOptions(kv_cache_type="nonsense", num_parallel=1),
    ],
)
def test_load_options_are_accepted(babble_gguf: Path, options: LoadOptions) -> None:
    with Runner(babble_gguf, options) as runner:
        assert generate(runner, "hello", SamplingOptions(temperature=0, num_predict=4)) is not None
        assert runner.stats().slots_total == options.num_parallel


def test_runner_attributes(babble_runner: Runner) -> None:
    r = babble_runner
    assert r.n_ctx_train == 2048 and r.context_length == 512 and r.n_embd == 64
    assert r.bos_token == "<s>" and r.eos_token == "</s>" and r.add_bos
    assert r.tokenize("hello")[0] == r.bos_id
    assert r.tokenize("hello", add_special=False)[0] != r.bos_id
    assert r.tokenize("<|im_start|>", add_special=False) != r.tokenize("<|im_start|>", add_special=False,
                                                                         parse_special=False)
    assert r.detokenize(r.tokenize("hello world", add_special=False)) == "hello world"
    assert r.token_bytes(r.tokenize("sky", add_special=False)[-1]).endswith(b"sky")
    assert not r.is_embedding and r.stats().size > 0


def test_num_ctx_is_capped_by_training_context(babble_gguf: Path) -> None:
    with Runner(babble_gguf, LoadOptions(num_ctx=100_000, num_parallel=1)) as runner:
        assert runner.context_length == 2048


def test_bad_files_raise_runner_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf at all" * 100)
    with pytest.raises(RunnerError, match="unable to load model"):
        Runner(junk)
    with pytest.raises(RunnerError, match="not found"):
        Runner(tmp_path / "missing.gguf")


def test_lora_adapter_changes_the_output(babble_gguf: Path, tmp_path: Path) -> None:
    lora = write_lora(tmp_path / "lora.gguf")
    opts = SamplingOptions(temperature=0, num_predict=20)
    with Runner(babble_gguf, LoadOptions(num_ctx=128, num_parallel=1)) as plain:
        base = generate(plain, "hello world", opts)
    with Runner(babble_gguf, LoadOptions(num_ctx=128, num_parallel=1, adapters=(str(lora),))) as adapted:
        assert generate(adapted, "hello world", opts) != base


def test_bad_adapter_raises_runner_error(babble_gguf: Path, tmp_path: Path) -> None:
    junk = tmp_path / "lora.gguf"
    junk.write_bytes(b"nope")
    with pytest.raises(RunnerError, match="LoRA"):
        Runner(babble_gguf, LoadOptions(adapters=(str(junk),)))


def test_bad_tokens_are_refused(babble_runner: Runner) -> None:
    with pytest.raises(InvalidOptionError, match="the model's token ids are 0 to"):
        babble_runner.submit([1, babble_runner.n_vocab + 5], GREEDY)
