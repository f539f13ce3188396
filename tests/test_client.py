"""ollamalib.Client / AsyncClient against a real server: the Engine surface over HTTP, typed errors."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest


from ollamalib.client import AsyncClient, Client, error_from_response  # noqa: E402
from ollamalib.errors import (  # noqa: E402
    BlobNotFoundError,
    CapabilityError,
    ContextLengthError,
    DigestMismatchError,
    InvalidFormatError,
    InvalidNameError,
    InvalidOptionError,
    ModelfileError,
    ModelNotFoundError,
    RequestCancelledError,
    ResponseError,
    ServerBusyError,
    UnauthorizedError,
)
from ollamalib.protocol import API_METHODS, AsyncOllamaAPI, OllamaAPI  # noqa: E402
from ollamalib.types import ChatResponse, GenerateResponse, ProgressResponse  # noqa: E402
from server.srvutil import HELLO_SCRIPT, build_store, make_settings, start_server  # noqa: E402

from gguf_factory import CHATML_TEMPLATE, write_tiny_gguf  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from ollamalib.engine import AsyncEngine

    tmp = tmp_path_factory.mktemp("client")
    build_store(tmp / "models", tmp / "gguf")
    settings = make_settings(tmp, tmp / "models", context_length=512)
    srv = start_server(AsyncEngine(settings), settings)
    yield srv
    srv.stop()


@pytest.fixture
def client(server):
    with Client(server.url) as c:
        yield c


def test_surface_matches_the_protocol(server):
    with Client(server.url) as c:
        assert isinstance(c, OllamaAPI)
        assert all(callable(getattr(c, name)) for name in API_METHODS)
    assert isinstance(AsyncClient(server.url), AsyncOllamaAPI)


@pytest.mark.parametrize("name", API_METHODS)
def test_signatures_match_the_engine(name):
    import inspect

    from ollamalib.engine import AsyncEngine, Engine

    def shape(fn):
        return [(p.name, p.kind) for p in inspect.signature(fn).parameters.values()]

    assert shape(getattr(Client, name)) == shape(getattr(Engine, name))
    assert shape(getattr(AsyncClient, name)) == shape(getattr(AsyncEngine, name))


def test_host_from_environment(server, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", server.host)
    with Client() as c:
        assert str(c._http.base_url).rstrip("/") == server.url
        assert c.list().models


def test_generate_and_chat(client):
    r = client.generate("hello", "Hi")
    assert isinstance(r, GenerateResponse) and r.response == HELLO_SCRIPT and r["done"] is True
    chunks = list(client.generate("hello", "Hi", stream=True))
    assert "".join(c.response for c in chunks) == HELLO_SCRIPT and chunks[-1].done
    chat = client.chat("hello", [{"role": "user", "content": "Hi"}])
    assert isinstance(chat, ChatResponse) and chat.message.content == HELLO_SCRIPT
    parts = list(client.chat("hello", [{"role": "user", "content": "Hi"}], stream=True))
    assert "".join(p.message.content for p in parts) == HELLO_SCRIPT


def test_tools_from_a_python_function(client):
    def get_weather(city: str) -> str:
        """Weather in a city.

        Args:
          city: the city name
        """
        return "sunny"

    r = client.chat("toolbot", [{"role": "user", "content": "Paris?"}], tools=[get_weather])
    call = r.message.tool_calls[0]
    assert call.function.name == "get_weather" and call.function.arguments == {"city": "Paris"}


def test_embed_embeddings_ps(client):
    e = client.embed("tiny-embed", ["a", "b"])
    assert len(e.embeddings) == 2
    assert len(client.embeddings("tiny-embed", "a").embedding) == len(e.embeddings[0])
    assert any(m.model == "tiny-embed:latest" for m in client.ps().models)


def test_model_management(client, tmp_path):
    gguf = write_tiny_gguf(tmp_path / "local.gguf", chat_template=CHATML_TEMPLATE, seed=5)
    done = client.create("from-local", from_=str(gguf), system="Hi.")
    assert isinstance(done, ProgressResponse) and done.status == "success"
    digest = client.create_blob(gguf)
    assert digest.startswith("sha256:") and client.create_blob(gguf) == digest
    events = list(client.create("from-files", files={"m.gguf": digest}, stream=True))
    assert events[-1].status == "success"
    assert client.show("from-local").system == "Hi."
    assert client.show("from-local", verbose=True).tensors
    assert client.copy("from-files", "copied").status == "success"
    names = [m.model for m in client.list().models]
    assert {"from-local:latest", "from-files:latest", "copied:latest"} <= set(names)
    for name in ("copied", "from-files", "from-local"):
        assert client.delete(name).status == "success"
    with pytest.raises(ModelNotFoundError):
        client.show("from-local")


def test_typed_errors_from_the_server(client):
    with pytest.raises(ModelNotFoundError) as info:
        client.generate("ghost", "x")
    assert str(info.value) == "model 'ghost' not found" and info.value.status_code == 404
    assert info.value.name == "ghost"
    with pytest.raises(ModelNotFoundError):
        list(client.chat("ghost", [{"role": "user", "content": "x"}], stream=True))
    with pytest.raises(CapabilityError, match="does not support generate"):
        client.generate("tiny-embed", "x")
    with pytest.raises(InvalidNameError):
        client.generate("bad name!", "x")
    with pytest.raises(InvalidFormatError):
        client.generate("tiny", "x", format="yaml")
    with pytest.raises(InvalidOptionError):
        client.generate("tiny", "x", keep_alive="3600")
    with pytest.raises(ModelfileError, match="neither 'from' or 'files'"):
        client.create("nothing")
    with pytest.raises(ModelNotFoundError):
        client.delete("ghost")


@pytest.mark.parametrize(
    ("status", "text", "kind"),
    [
        (404, "model 'x' not found", ModelNotFoundError),
        (404, 'model "x" not found, try pulling it first', ModelNotFoundError),
        (404, 'blob "sha256:abc" not found', BlobNotFoundError),
        (400, 'digest mismatch, expected "a", got "b"', DigestMismatchError),
        (400, "invalid model name", InvalidNameError),
        (400, 'source "x y" is invalid', InvalidNameError),
        (400, '"x" does not support chat', CapabilityError),
        (400, "the input length exceeds the context length", ContextLengthError),
        (500, 'option "num_ctx" must be of type integer', InvalidOptionError),
        (503, "server busy, please try again.  maximum pending requests exceeded", ServerBusyError),
        (499, "request canceled", RequestCancelledError),
        (401, "unauthorized", UnauthorizedError),
        (418, "teapot", ResponseError),
    ],
)
def test_error_mapping(status, text, kind):
    err = error_from_response(status, text)
    assert type(err) is kind and str(err) == text and err.status_code == status


def test_stream_error_line_raises(server):
    transport = httpx.MockTransport(lambda request: httpx.Response(
        200, content=b'{"model":"m","created_at":"2024-01-01T00:00:00Z","response":"a","done":false}\n'
                     b'{"error":"model \'m\' not found"}\n'))
    with Client(http=httpx.Client(transport=transport, base_url="http://x")) as c:
        stream = c.generate("m", "x", stream=True)
        assert next(stream).response == "a"
        with pytest.raises(ModelNotFoundError):
            next(stream)


def test_client_over_litestar_test_client(server):
    from litestar.testing import TestClient

    from ollamalib_server import create_app

    app = create_app(server.engine, server.settings)
    with TestClient(app) as http, Client(http=http) as c:
        assert c.generate("hello", "Hi").response == HELLO_SCRIPT
        assert "".join(ch.response for ch in c.generate("hello", "Hi", stream=True)) == HELLO_SCRIPT


def test_async_client(server):
    async def main():
        async with AsyncClient(server.url) as c:
            r = await c.generate("hello", "Hi")
            parts = [p async for p in await c.chat("hello", [{"role": "user", "content": "Hi"}], stream=True)]
            listed = await c.list()
            e = await c.embed("tiny-embed", "a")
            with pytest.raises(ModelNotFoundError):
                await c.show("ghost")
            return r, parts, listed, e

    r, parts, listed, e = asyncio.run(main())
    assert r.response == HELLO_SCRIPT
    assert "".join(p.message.content for p in parts) == HELLO_SCRIPT
    assert listed.models and len(e.embeddings) == 1


def test_engine_and_client_give_the_same_answer(server):
    from ollamalib.engine import Engine

    with Engine(server.settings) as engine, Client(server.url) as client:
        a = engine.generate("hello", "Hi", options={"seed": 1})
        b = client.generate("hello", "Hi", options={"seed": 1})
        assert a.response == b.response
        assert json.loads(a.model_dump_json(include={"model", "done", "done_reason"})) == json.loads(
            b.model_dump_json(include={"model", "done", "done_reason"}))
