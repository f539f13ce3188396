"""Engine's store methods: create, create_blob, list, show, copy, delete, pull/push wiring."""

from __future__ import annotations

import hashlib

import pytest

from ollamalib.engine import Engine
from ollamalib.errors import InvalidNameError, ModelNotFoundError, OllamalibError
from ollamalib.types import ProgressResponse, StatusResponse


def test_create_stream_and_list_show(engine: Engine, tiny_gguf):
    events = list(engine.create("tiny:v1", from_=str(tiny_gguf), system="Be nice.", parameters={"top_k": 5},
                                stream=True))
    assert all(isinstance(e, ProgressResponse) for e in events)
    assert events[0].status == "parsing GGUF" and events[-1].status == "success"
    assert engine.create("tiny:v2", from_="tiny:v1", template="{{ .Prompt }}").status == "success"
    names = [m.name for m in engine.list().models]
    assert sorted(names) == ["tiny:v1", "tiny:v2"]
    info = engine.show("tiny:v2")
    assert info.system == "Be nice." and info.template == "{{ .Prompt }}" and "top_k" in info.parameters
    with pytest.raises(InvalidNameError, match="^model is required$"):
        engine.show("")
    with pytest.raises(ModelNotFoundError, match="^model 'nope:latest' not found$"):
        engine.show("nope")


def test_create_blob_and_files(engine: Engine, tiny_gguf):
    digest = engine.create_blob(tiny_gguf)
    assert digest == "sha256:" + hashlib.sha256(tiny_gguf.read_bytes()).hexdigest()
    engine.create("fromfiles", files={"model.gguf": digest})
    assert engine.generate(model="fromfiles", prompt="hi", options={"num_predict": 2}).done


def test_copy_and_delete(engine: Engine, tiny):
    assert engine.copy(tiny, "tiny-copy") == StatusResponse(status="success")
    assert {m.name for m in engine.list().models} == {"tiny:latest", "tiny-copy:latest"}
    with pytest.raises(ModelNotFoundError, match='^model "nope" not found$'):
        engine.copy("nope", "x")
    with pytest.raises(InvalidNameError, match='^destination "bad/na/me/x" is invalid$'):
        engine.copy(tiny, "bad/na/me/x")
    assert engine.delete("tiny-copy").status == "success"
    with pytest.raises(ModelNotFoundError, match="^model 'tiny-copy' not found$"):
        engine.delete("tiny-copy")
    with pytest.raises(InvalidNameError, match='^name "a/b/c/d" is invalid$'):
        engine.delete("a/b/c/d")


def test_pull_and_push_go_through_the_registry(engine: Engine, tiny):
    with pytest.raises(OllamalibError):
        engine.pull("127.0.0.1:9/library/nothing:latest", insecure=True)
    with pytest.raises(InvalidNameError, match="^model is required$"):
        engine.push("")
    stream = engine.pull("127.0.0.1:9/library/nothing:latest", insecure=True, stream=True)
    with pytest.raises(OllamalibError):
        list(stream)
