"""Input that used to crash a route with a 500 (issue 12, item 9): each gets Ollama's answer or a clear 400.

Lone UTF-16 surrogates become U+FFFD as in Go's decoder, deep JSON is refused past ``MAX_DEPTH``, a ``from``
too long to be a path is an invalid name, and a corrupt or truncated GGUF is refused by create.
"""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest

from gguf_factory import CHATML_TEMPLATE, write_tiny_gguf
from ollamalib_server._decode import MAX_DEPTH

LONE = '"\\ud800"'
DEPTH_TEXT = f"exceeded max depth: JSON nested more than {MAX_DEPTH} levels"


def post(srv, path, content):
    return httpx.post(srv.url + path, content=content.encode() if isinstance(content, str) else content, timeout=120)


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


SURROGATE_CASES = [
    ("/api/generate", '{"model":"hello","prompt":%s,"stream":false}'),
    ("/api/generate", '{"model":"hello","prompt":"hi","system":%s,"stream":false}'),
    ("/api/generate", '{"model":"hello","prompt":%s,"raw":true,"stream":false}'),
    ("/api/generate", '{"model":"hello","prompt":%s}'),
    ("/api/chat", '{"model":"hello","messages":[{"role":"user","content":%s}],"stream":false}'),
    ("/api/chat", '{"model":"hello","messages":[{"role":%s,"content":"x"}],"stream":false}'),
    ("/api/chat", '{"model":"toolbot","stream":false,"messages":[{"role":"assistant","content":"","tool_calls":'
                  '[{"function":{"name":%s,"arguments":{"a":%s}}}]},{"role":"user","content":"x"}]}'),
    ("/api/embed", '{"model":"tiny-embed","input":%s}'),
    ("/api/embed", '{"model":"tiny-embed","input":["ok",%s]}'),
    ("/api/embeddings", '{"model":"tiny-embed","prompt":%s}'),
    ("/v1/chat/completions", '{"model":"hello","messages":[{"role":"user","content":%s}]}'),
    ("/v1/chat/completions", '{"model":"hello","messages":[{"role":"user","content":[{"type":"text","text":%s}]}]}'),
    ("/v1/chat/completions", '{"model":"hello","stream":true,"messages":[{"role":"user","content":%s}]}'),
    ("/v1/completions", '{"model":"hello","prompt":%s}'),
    ("/v1/embeddings", '{"model":"tiny-embed","input":%s}'),
    ("/v1/embeddings", '{"model":"tiny-embed","input":[%s]}'),
]


@pytest.mark.parametrize(("path", "template"), SURROGATE_CASES, ids=[f"{p} {i}" for i, (p, _) in enumerate(SURROGATE_CASES)])
def test_lone_surrogates_are_replaced_not_fatal(live, path, template):
    body = template.replace("%s", LONE)
    r = post(live, path, body)
    assert r.status_code == 200, r.text[:300]


@pytest.mark.parametrize("escape", ["\\ud800", "\\udc00x", "\\udfff\\ud800", "a\\ud83d"])
def test_surrogates_become_replacement_characters(live, escape):
    """The text the model sees is Go's: each lone surrogate one U+FFFD, a valid pair one character."""
    body = '{"model":"hello","prompt":"%s","raw":true,"stream":false,"_debug_render_only":true}' % escape
    r = post(live, "/api/generate", body)
    assert r.status_code == 200, r.text
    expected = json.loads(f'"{escape}"').encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    assert r.json()["_debug_info"]["rendered_template"] == expected
    pair = post(live, "/api/generate", '{"model":"hello","prompt":"\\ud83d\\ude00","raw":true,"stream":false,'
                                      '"_debug_render_only":true}')
    assert pair.json()["_debug_info"]["rendered_template"] == "\U0001f600"


def test_surrogates_in_error_texts_and_other_fields(live):
    r = post(live, "/api/generate", '{"model":"hello","prompt":"x","stream":false,"keep_alive":%s}' % LONE)
    assert (r.status_code, r.json()) == (400, {"error": 'time: invalid duration "\ufffd"'})
    r = post(live, "/api/copy", '{"source":"hello","destination":%s}' % LONE)
    assert (r.status_code, r.json()) == (400, {"error": 'destination "\ufffd" is invalid'})
    r = post(live, "/api/generate", '{"model":"hello","prompt":"x","stream":false,"format":%s}' % LONE)
    assert r.status_code == 400
    r = post(live, "/api/generate", '{"model":"hello","prompt":"x","stream":false,"options":{%s:1}}' % LONE)
    assert r.status_code == 200


TOOL_ARGS = ('{"model":"toolbot","stream":false,"messages":[{"role":"assistant","content":"","tool_calls":'
             '[{"function":{"name":"f","arguments":%s}}]},{"role":"user","content":"x"}]}')
DEEP_CASES = [
    ("/api/chat", TOOL_ARGS),
    ("/api/chat", '{"model":"toolbot","stream":false,"tools":[{"type":"function","function":{"name":"f",'
                  '"parameters":%s}}],"messages":[{"role":"user","content":"x"}]}'),
    ("/api/generate", '{"model":"hello","prompt":"x","stream":false,"format":%s}'),
    ("/api/generate", '{"model":"hello","prompt":"x","stream":false,"options":%s}'),
    ("/api/create", '{"model":"deep","from":"hello","parameters":%s}'),
    ("/v1/chat/completions", '{"model":"toolbot","tools":[{"type":"function","function":{"name":"f","parameters":%s}}],'
                             '"messages":[{"role":"user","content":"x"}]}'),
    ("/v1/chat/completions", '{"model":"hello","response_format":{"type":"json_schema","json_schema":{"name":"x",'
                             '"schema":%s}},"messages":[{"role":"user","content":"x"}]}'),
]


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 900, 990, 5000])
@pytest.mark.parametrize(("path", "template"), DEEP_CASES, ids=[f"{p} {i}" for i, (p, _) in enumerate(DEEP_CASES)])
def test_deep_json_is_a_clear_400(live, path, template, depth):
    r = post(live, path, template.replace("%s", nested(depth)))
    assert r.status_code == 400, r.text[:300]
    text = r.json()["error"]
    assert (text["message"] if isinstance(text, dict) else text) == DEPTH_TEXT


@pytest.mark.parametrize("depth", [900, 5000])
def test_deep_openai_tool_arguments_are_a_clear_400(live, depth):
    body = {"model": "toolbot", "messages": [
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "1", "type": "function", "function": {"name": "f", "arguments": nested(depth)}}]},
        {"role": "user", "content": "x"}]}
    r = post(live, "/v1/chat/completions", json.dumps(body))
    assert (r.status_code, r.json()["error"]["message"]) == (400, DEPTH_TEXT)


def test_nesting_within_the_bound_still_works(live):
    r = post(live, "/api/chat", TOOL_ARGS.replace("%s", nested(MAX_DEPTH - 6)))
    assert r.status_code == 200, r.text[:300]


@pytest.mark.parametrize("source", ["a" * 100_000, "/" + "a" * 5000, "a/" * 3000 + "b", "a\u0000b", "~" + "x" * 300])
def test_from_too_long_for_a_path_is_an_invalid_name(live, source):
    r = post(live, "/api/create", json.dumps({"model": "never-made", "from": source, "stream": False}))
    assert (r.status_code, r.json()) == (400, {"error": "invalid model name"})


@pytest.fixture
def empty_server(server_factory, tmp_path):
    return server_factory(models=tmp_path / "own-models")


def _upload(srv, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert httpx.post(f"{srv.url}/api/blobs/{digest}", content=data).status_code == 201
    return digest


def test_corrupt_gguf_is_refused_by_create(empty_server, tmp_path):
    good = write_tiny_gguf(tmp_path / "good.gguf", chat_template=CHATML_TEMPLATE).read_bytes()
    corrupt = {
        "garbage": (b"not a gguf at all" * 10, "invalid file magic"),
        "magic only": (b"GGUF", "invalid GGUF file"),
        "header only": (good[:24], "invalid GGUF file"),
        "truncated half": (good[: len(good) // 2], "runs past the end of the file"),
        "truncated tail": (good[:-100], "the file is truncated or corrupt"),
        "bad version": (good[:4] + b"\xff\xff\xff\xff" + good[8:], "unsupported GGUF version"),
        "huge tensor count": (good[:8] + b"\xff" * 8 + good[16:], "invalid GGUF file"),
    }
    for name, (data, cause) in corrupt.items():
        digest = _upload(empty_server, data)
        for body in ({"model": "broken", "files": {"m.gguf": digest}, "stream": False},
                     {"model": "broken", "from": digest, "stream": False}):
            r = post(empty_server, "/api/create", json.dumps(body))
            assert r.status_code == 400, (name, r.text[:300])
            assert cause in r.json()["error"], (name, r.json())
        lines = post(empty_server, "/api/create", json.dumps({"model": "broken", "files": {"m.gguf": digest}}))
        assert cause in lines.text.strip().splitlines()[-1], name
    assert httpx.get(empty_server.url + "/api/tags").json()["models"] == []
    digest = _upload(empty_server, good)
    r = post(empty_server, "/api/create", json.dumps({"model": "fine", "files": {"m.gguf": digest}, "stream": False}))
    assert r.status_code == 200, r.text
