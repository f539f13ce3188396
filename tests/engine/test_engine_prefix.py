"""Prefix reuse seen from the Engine: a chat's next turn evaluates only the tokens that are new."""

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
