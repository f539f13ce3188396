"""Prefix reuse seen from the Engine: a chat's next turn evaluates only the tokens that are new."""

import json
import os
import subprocess
import sys

from ollamalib import Engine


def test_second_turn_of_a_chat_evaluates_only_new_tokens(engine: Engine, tiny, settings):
    opts = {"num_predict": 8, "temperature": 0, "seed": 1}
    history = [{"role": "system", "content": "You are a terse assistant. " * 20}, {"role": "user", "content": "hello"}]
    first = engine.chat(model=tiny, messages=history, options=opts)
    assert first.prompt_eval_count > 100
    history += [first.message.model_dump(exclude_none=True), {"role": "user", "content": "and again"}]
    second = engine.chat(model=tiny, messages=history, options=opts)
    with Engine(settings) as cold:  # a fresh engine has nothing cached: it evaluates the whole prompt
        whole = cold.chat(model=tiny, messages=history, options=opts)
    assert whole.prompt_eval_count > first.prompt_eval_count
    assert 1 <= second.prompt_eval_count <= whole.prompt_eval_count - first.prompt_eval_count + 8
    assert second.message.content == whole.message.content


def test_a_chat_whose_slot_was_taken_is_restored_from_the_prompt_cache(tiny_gguf, settings):
    """With one slot, another chat takes it between two turns; the host-RAM prompt cache gives the prefix back."""
    opts = {"num_predict": 8, "temperature": 0}

    def turns(engine: Engine) -> tuple[list[int], list[str]]:
        engine.create("tiny", from_=str(tiny_gguf))
        history = [{"role": "system", "content": "You are a terse assistant. " * 20}, {"role": "user", "content": "hi"}]
        first = engine.chat(model="tiny", messages=history, options=opts)
        other = [{"role": "system", "content": "Answer in verse about the sea. " * 20}, {"role": "user", "content": "go"}]
        engine.chat(model="tiny", messages=other, options=opts)
        history += [first.message.model_dump(exclude_none=True), {"role": "user", "content": "and again"}]
        second = engine.chat(model="tiny", messages=history, options=opts)
        return [first.prompt_eval_count, second.prompt_eval_count], [first.message.content, second.message.content]

    with Engine(settings.replace(num_parallel=1, cache_ram_mib=0)) as plain:
        counts, answers = turns(plain)
    with Engine(settings.replace(num_parallel=1)) as cached:
        cached_counts, cached_answers = turns(cached)
        (metrics,) = cached.metrics()
    assert cached_answers == answers  # the same greedy answers
    assert counts[1] > counts[0] > 100  # without the cache the second turn read the whole chat again
    # with it only what is new: the answer as the template renders it, the new message, the turn's closing tokens
    assert cached_counts[1] <= counts[1] - counts[0] + 8
    assert metrics.prompt_cache_hits == 1 and metrics.prompt_cache_tokens > 100


def test_a_new_process_answers_a_long_prompt_from_the_disk_cache(tiny_gguf, settings, tmp_path):
    """With OLLAMALIB_CACHE_DIR the state of a long prompt outlives the Engine: another process, on the same store,
    evaluates its last token only and gives the same greedy answer."""
    cached = settings.replace(cache_dir=tmp_path / "kv")
    prompt = "You are a terse assistant who knows the weather of every city. " * 12
    opts = {"num_predict": 8, "temperature": 0}
    with Engine(cached) as first:
        first.create("tiny", from_=str(tiny_gguf))
        answer = first.generate(model="tiny", prompt=prompt, options=opts)
        # the scheduler counts the prompt cache's bound as memory the runner will hold
        assert first.scheduler.loaded()[0].spec.prompt_cache_bytes == cached.cache_ram_mib << 20
    assert answer.prompt_eval_count > 100
    assert len(list((tmp_path / "kv").glob("*.kv"))) == 1  # written when the runner was unloaded
    script = (
        "import json, sys\n"
        "from ollamalib import Engine, Settings\n"
        "s = Settings.from_env()\n"
        f"r = Engine(s).generate(model='tiny', prompt={prompt!r}, options={opts!r})\n"
        "print(json.dumps([r.prompt_eval_count, r.response]))\n"
    )
    env = {**os.environ, **cached.as_env(), "OLLAMALIB_DATA_DIR": str(settings.data_dir),
           "OLLAMALIB_HOME": str(settings.home_dir)}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    count, text = json.loads(out.stdout.strip().splitlines()[-1])
    assert count == 1 and text == answer.response
