"""Hostile input through Engine: bad token ids, schemas that would expand to huge grammars, huge chats."""

from __future__ import annotations

import pytest

from ollamalib.engine import Engine
from ollamalib.errors import InvalidOptionError


@pytest.mark.parametrize("bad", [-1, 10**6, 2**70])
def test_generate_context_with_ids_outside_the_vocabulary_is_a_400(engine: Engine, scripted, bad):
    model = scripted(" fine")
    first = engine.generate(model=model, prompt="one")
    with pytest.raises(InvalidOptionError, match=r"^invalid token .* in context: the model's token ids are 0 to \d+$") as e:
        engine.generate(model=model, prompt="two", context=[*first.context, bad])
    assert e.value.status_code == 400
    for stream in (False, True):  # nothing was left holding the model
        with pytest.raises(InvalidOptionError):
            out = engine.generate(model=model, prompt="two", context=[bad], stream=stream)
            list(out) if stream else out
    assert engine.generate(model=model, prompt="two", context=first.context).response == " fine"
