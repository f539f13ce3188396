"""keep_alive, eviction, queue limits, concurrency and seeds on real runners."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from ollamalib.config import Settings
from ollamalib.engine import Engine
from ollamalib.errors import ServerBusyError

REPO = Path(__file__).resolve().parents[2]


def test_keep_alive_expiry_from_request_and_settings(settings: Settings, tiny_gguf):
    with Engine(settings.replace(keep_alive=0.4)) as engine:
        engine.create("tiny", from_=str(tiny_gguf))
        engine.generate(model="tiny", prompt="hi", options={"num_predict": 2})
        [row] = engine.ps().models
        assert 0 < (row.expires_at - row.expires_at.now(row.expires_at.tzinfo)).total_seconds() <= 0.4
        time.sleep(0.8)
        assert engine.ps().models == []
        engine.generate(model="tiny", prompt="hi", options={"num_predict": 2}, keep_alive="1h")
        time.sleep(0.6)
        [row] = engine.ps().models
        assert (row.expires_at - row.expires_at.now(row.expires_at.tzinfo)).total_seconds() > 3500
        engine.generate(model="tiny", prompt="hi", options={"num_predict": 2}, keep_alive=-1)
        assert engine.ps().models[0].expires_at.year > 2200
        engine.generate(model="tiny", prompt="hi", options={"num_predict": 2}, keep_alive=0)
        assert engine.ps().models == []


def test_eviction_of_the_idle_model_expiring_soonest(settings: Settings, tiny_gguf, scripted_gguf):
    with Engine(settings.replace(max_loaded_models=2)) as engine:
        for name, path in (("a", tiny_gguf), ("b", scripted_gguf(" b")), ("c", scripted_gguf(" c"))):
            engine.create(name, from_=str(path))
        engine.generate(model="a", prompt="", keep_alive="10m")
        engine.generate(model="b", prompt="", keep_alive="1m")
        engine.generate(model="c", prompt="", keep_alive="5m")
        assert [m.name for m in engine.ps().models] == ["a:latest", "c:latest"]  # b expired soonest


def test_delete_unloads(engine: Engine, tiny):
    engine.generate(model=tiny, prompt="")
    assert engine.ps().models
    assert engine.delete(tiny).status == "success"
    assert engine.ps().models == [] and engine.list().models == []


def test_queue_full_is_server_busy(settings: Settings, endless_gguf):
    with Engine(settings.replace(num_parallel=1, max_queue=1)) as engine:
        engine.create("tiny", from_=str(endless_gguf))
        busy = engine.generate(model="tiny", prompt="go", stream=True,  # greedy: never ends on its own
                               options={"num_predict": 100000, "temperature": 0})
        next(busy)  # holds the only slot
        waiter = threading.Thread(target=lambda: engine.generate(model="tiny", prompt="x", options={"num_predict": 1}))
        waiter.start()
        time.sleep(0.3)  # the waiter is now pending
        with pytest.raises(ServerBusyError) as err:
            engine.generate(model="tiny", prompt="y", options={"num_predict": 1})
        assert err.value.status_code == 503
        busy.close()
        waiter.join(10)
        assert not waiter.is_alive()


def test_many_threads_share_the_slots(engine: Engine, scripted):
    model = scripted(" shared answer")
    results: list[str] = []
    lock = threading.Lock()

    def ask(i: int) -> None:
        text = engine.generate(model=model, prompt=f"question {i}").response
        with lock:
            results.append(text)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [" shared answer"] * 12
    [row] = engine.ps().models
    assert row.num_parallel == 4 and row.slots_in_use == 0


# The babbling tiny model ends early and often; a grammar keeps it sampling 30+ free characters.
LONG_STRING = {"type": "string", "minLength": 30, "maxLength": 40}


def test_fixed_seed_identical_in_process(engine: Engine, tiny):
    opts = {"seed": 1234, "temperature": 1.0}
    a = engine.generate(model=tiny, prompt="Once upon a time", options=opts, format=LONG_STRING).response
    b = engine.generate(model=tiny, prompt="Once upon a time", options=opts, format=LONG_STRING).response
    c = engine.generate(model=tiny, prompt="Once upon a time", options={**opts, "seed": 99}, format=LONG_STRING)
    assert a == b and len(a) > 30 and c.response != a


_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from ollamalib.config import Settings
    from ollamalib.engine import Engine
    fmt = {"type": "string", "minLength": 30, "maxLength": 40}
    with Engine(Settings.from_env({}, models=Path(sys.argv[1]))) as engine:
        for options in ({"temperature": 1.0, "seed": 7}, {"temperature": 1.0}, {"temperature": 1.0, "seed": -1}):
            print(repr(engine.generate(model="tiny", prompt="Once upon a time", options=options, format=fmt).response))
    """
)


def _child(models: Path) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", _CHILD, str(models)], capture_output=True, text=True,
                         env=env, timeout=120, check=True)
    return out.stdout.strip().splitlines()


def test_seeds_across_processes(engine: Engine, tiny):
    (seeded1, absent1, minus1), (seeded2, absent2, minus2) = _child(engine.store.root), _child(engine.store.root)
    assert seeded1 == seeded2  # a fixed seed repeats across process restarts
    assert absent1 != absent2 and minus1 != minus2  # no seed (or -1) does not
