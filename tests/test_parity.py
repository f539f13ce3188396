"""The four surfaces agree: Engine, AsyncEngine, Client and AsyncClient (against a real uvicorn server) give the
same answer, or the same exception type, text and status, for the same good and bad requests.

Each request is written once as (method, arguments); a call runs it through every surface.
"""

from __future__ import annotations

import asyncio
import inspect
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ollamalib import AsyncClient, AsyncEngine, Client, Engine
from ollamalib.protocol import API_METHODS, AsyncOllamaAPI, OllamaAPI
from ollamalib.requests import ChatRequest, GenerateRequest
from ollamalib.errors import (
    CapabilityError,
    InvalidOptionError,
    ModelfileError,
    ModelNotFoundError,
    OllamalibError,
)
from server.srvutil import build_store, make_settings, start_server

GREEDY = {"temperature": 0, "num_predict": 4, "seed": 1}
USER = [{"role": "user", "content": "Hello"}]
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string", "enum": ["Paris"]}}, "required": ["city"]}}}
NOUL = {"q": {"type": "noul", "instructions": "Is it?"}}


@pytest.mark.parametrize("name", API_METHODS)
def test_one_signature_and_docstring_on_all_four(name):
    """Each method is written once (ollamalib.protocol): the four classes show the same parameters, docstring and
    result, the async pair's as coroutines returning ``AsyncIterator`` where the sync pair returns ``Iterator``."""
    sync, asyn = (Engine, Client), (AsyncEngine, AsyncClient)
    signatures = {cls: inspect.signature(getattr(cls, name)) for cls in (*sync, *asyn)}
    assert len({str(sig.replace(return_annotation=inspect.Signature.empty)) for sig in signatures.values()}) == 1
    (returns,) = {signatures[cls].return_annotation for cls in sync}
    assert {signatures[cls].return_annotation for cls in asyn} == {returns.replace("Iterator[", "AsyncIterator[")}
    assert all(inspect.iscoroutinefunction(getattr(cls, name)) for cls in asyn)
    assert not any(inspect.iscoroutinefunction(getattr(cls, name)) for cls in sync)
    (doc,) = {getattr(cls, name).__doc__ for cls in (*sync, *asyn)}
    assert doc
    hints = {cls: typing.get_type_hints(getattr(cls, name)) for cls in (*sync, *asyn)}  # the annotations resolve
    assert hints[Engine] == hints[Client] and hints[AsyncEngine] == hints[AsyncClient]


def test_the_classes_inherit_the_surface():
    """The sync pair subclasses OllamaAPI and the async pair AsyncOllamaAPI (a runtime Protocol check alone sees
    only the names, which both pairs share)."""
    for cls in (Engine, Client):
        assert OllamaAPI in cls.__mro__ and AsyncOllamaAPI not in cls.__mro__
        assert isinstance(cls.__new__(cls), OllamaAPI)
    for cls in (AsyncEngine, AsyncClient):
        assert AsyncOllamaAPI in cls.__mro__ and OllamaAPI not in cls.__mro__
        assert isinstance(cls.__new__(cls), AsyncOllamaAPI)


@pytest.fixture(scope="module")
def surfaces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Engine and AsyncEngine over one store, and both clients against a real server over the same store."""
    root = tmp_path_factory.mktemp("parity")
    build_store(root / "models", root / "gguf")
    settings = make_settings(root, root / "models", context_length=512)
    engine = Engine(settings)
    served = AsyncEngine(make_settings(root / "srv", root / "models", context_length=512))
    srv = start_server(served, settings)
    yield {"engine": engine, "async_engine": AsyncEngine(engine=engine), "url": srv.url}
    srv.stop()
    engine.close()


def _outcome(call: Any) -> tuple[str, Any]:
    try:
        return "ok", call()
    except OllamalibError as exc:
        return "error", (type(exc), str(exc), exc.status_code)


async def _aoutcome(coro_fn: Any) -> tuple[str, Any]:
    try:
        return "ok", await coro_fn()
    except OllamalibError as exc:
        return "error", (type(exc), str(exc), exc.status_code)


def run_everywhere(s: dict[str, Any], method: str, *args: Any, **kwargs: Any) -> dict[str, tuple[str, Any]]:
    """The outcome of ``method(*args, **kwargs)`` on each surface."""
    out = {"Engine": _outcome(lambda: getattr(s["engine"], method)(*args, **kwargs))}
    with Client(s["url"]) as client:
        out["Client"] = _outcome(lambda: getattr(client, method)(*args, **kwargs))

    async def both_async() -> tuple[tuple[str, Any], tuple[str, Any]]:
        a = await _aoutcome(lambda: getattr(s["async_engine"], method)(*args, **kwargs))
        async with AsyncClient(s["url"]) as aclient:
            b = await _aoutcome(lambda: getattr(aclient, method)(*args, **kwargs))
        return a, b

    out["AsyncEngine"], out["AsyncClient"] = asyncio.run(both_async())
    return out


def assert_same_error(outcomes: dict[str, tuple[str, Any]], kind: type[Exception], text: str, status: int) -> None:
    expected = ("error", (kind, text, status))
    assert outcomes == dict.fromkeys(outcomes, expected)


BAD_REQUESTS = [
    # the table: bad base64 image, wrongly typed option, bad think on an unknown model
    (("generate", "tiny", "x"), {"images": ["not base64!"]},
     InvalidOptionError, "illegal base64 data at input byte 3", 400),
    (("generate", "tiny", "x"), {"options": {"num_predict": "many"}},
     InvalidOptionError, 'option "num_predict" must be of type integer', 500),
    (("generate", "ghost", "x"), {"think": "lots"}, InvalidOptionError,
     'invalid think value: "lots" (must be "high", "medium", "low", "max", true, or false)', 400),
    # more of the same kind
    (("chat", "tiny"), {"messages": [{"role": "user", "content": "x", "images": ["!!"]}]},
     InvalidOptionError, "illegal base64 data at input byte 0", 400),
    (("chat", "ghost"), {"messages": USER, "think": 7}, InvalidOptionError,
     'think must be a boolean or string ("high", "medium", "low", "max", true, or false)', 400),
    (("chat", "tiny"), {"messages": USER, "options": {"temperature": "hot"}},
     InvalidOptionError, 'option "temperature" must be of type float32', 500),
    (("generate", "tiny", "x"), {"keep_alive": "3600"}, InvalidOptionError,
     'time: missing unit in duration "3600"', 400),
    (("generate", "tiny", "x"), {"top_logprobs": 21}, InvalidOptionError, "top_logprobs must be between 0 and 20", 400),
    (("generate", "tiny", "x"), {"raw": True, "system": "s"}, InvalidOptionError,
     "raw mode does not support template, system, or context", 400),
    (("chat", "toolbot"), {"messages": USER, "tools": [WEATHER], "tool_choice": "sometimes"}, InvalidOptionError,
     'invalid tool_choice: "sometimes" (must be "auto", "none", "required" or '
     '{"type": "function", "function": {"name": ...}})', 400),
    (("chat", "toolbot"), {"messages": USER, "tools": [WEATHER],
                           "tool_choice": {"type": "function", "function": {"name": "nope"}}}, InvalidOptionError,
     'tool_choice names the function "nope", which is not among the tools ("get_weather")', 400),
    (("generate", "ghost", "x"), {}, ModelNotFoundError, "model 'ghost' not found", 404),
    (("chat", "tiny-embed"), {"messages": USER}, CapabilityError, '"tiny-embed" does not support chat', 400),
    (("generate", "tiny", "x"), {"think": True}, CapabilityError, '"tiny" does not support thinking', 400),
    (("embed", "tiny-embed"), {"input": [1, 2]}, InvalidOptionError, "invalid input type", 400),
    (("embed", "tiny-embed"), {"input": "x", "keep_alive": [1]}, InvalidOptionError, "Unsupported type: 'array'", 400),
    (("embeddings", "ghost"), {"prompt": "x"}, ModelNotFoundError,
     'model "ghost" not found, try pulling it first', 404),
    (("create", "copy-of-tiny"), {"files": {"../x.gguf": "sha256:" + "0" * 64}}, ModelfileError,
     "file path must be relative", 400),
    (("systemone", "tiny", "s"), {"questions": {"q": {"type": "vote", "instructions": "x"}}}, InvalidOptionError,
     'question "q": unknown type "vote" (must be "choice", "noul" or "score")', 400),
    (("systemone", "tiny", "s"), {"questions": {"q": {"type": "choice", "instructions": "x"}}}, InvalidOptionError,
     'question "q": criteria are required: an object of choices, each with a description or null', 400),
    (("systemone", "tiny-embed", "s"), {"questions": NOUL}, CapabilityError,
     '"tiny-embed" does not support systemone', 400),
    (("systemone", "ghost", "s"), {"questions": NOUL}, ModelNotFoundError, "model 'ghost' not found", 404),
]


@pytest.mark.parametrize(("call", "kwargs", "kind", "text", "status"), BAD_REQUESTS,
                         ids=[f"{r[0][0]}-{r[3][:32]}" for r in BAD_REQUESTS])
def test_bad_requests_fail_alike(surfaces, call, kwargs, kind, text, status):
    method, *args = call
    assert_same_error(run_everywhere(surfaces, method, *args, **kwargs), kind, text, status)


def _same(outcomes: dict[str, tuple[str, Any]], view: Any) -> Any:
    """The one value ``view`` gives for every surface's answer (fails when any surface errs or differs)."""
    values = {}
    for name, (state, result) in outcomes.items():
        assert state == "ok", (name, result)
        values[name] = view(result)
    first = next(iter(values.values()))
    assert values == dict.fromkeys(values, first)
    return first


def test_good_requests_answer_alike(surfaces, tmp_path: Path):
    text = _same(run_everywhere(surfaces, "generate", "tiny", "Hello", options=GREEDY),
                 lambda r: (r.response, r.done, r.done_reason, r.eval_count))
    assert text[1:] == (True, "length", 4)
    chat = _same(run_everywhere(surfaces, "chat", "tiny", USER, options={**GREEDY, "draft_num_predict": 0}),
                 lambda r: (r.message.role, r.message.content, r.done_reason))
    assert chat[0] == "assistant"
    loaded = _same(run_everywhere(surfaces, "generate", "tiny", "", keep_alive="1m"), lambda r: r.done_reason)
    assert loaded == "load"
    forced = _same(run_everywhere(surfaces, "chat", "babbler", USER, tools=[WEATHER],
                                  options={**GREEDY, "num_predict": 160},
                                  tool_choice={"type": "function", "function": {"name": "get_weather"}}),
                   lambda r: [(c.function.name, c.function.arguments) for c in r.message.tool_calls or []])
    assert forced == [("get_weather", {"city": "Paris"})]
    dims = _same(run_everywhere(surfaces, "embed", "tiny-embed", ["a", "b"], dimensions=8),
                 lambda r: [len(v) for v in r.embeddings])
    assert dims == [8, 8]
    _same(run_everywhere(surfaces, "show", "tiny"), lambda r: (r.capabilities, r.details.family))
    decision = {"c": {"type": "choice", "instructions": "Which?", "criteria": {"red": None, "blue": "the sky"}}}
    choice = _same(run_everywhere(surfaces, "systemone", "tiny", {"sky": "blue"}, {**NOUL, **decision}),
                   lambda r: (r.answers["c"].choice, sorted(r.answers), r.usage.output_tokens))
    assert choice == (choice[0], ["c", "q"], 2) and choice[0] in ("red", "blue")


def test_send_takes_the_typed_request_everywhere(surfaces):
    """``send(request)``, which the CLI uses, answers as ``generate``/``chat`` do on all four surfaces."""
    request = GenerateRequest(model="tiny", prompt="Hello", options=GREEDY)
    sent = _same(run_everywhere(surfaces, "send", request), lambda r: (r.response, r.done_reason, r.eval_count))
    assert sent == _same(run_everywhere(surfaces, "generate", "tiny", "Hello", options=GREEDY),
                         lambda r: (r.response, r.done_reason, r.eval_count))
    chat = ChatRequest(model="tiny", messages=USER, options=GREEDY)
    assert _same(run_everywhere(surfaces, "send", chat), lambda r: r.message.role) == "assistant"
