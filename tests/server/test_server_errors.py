"""Status codes and exact error texts (reference section 1.7 and the OpenAI error shape), on a real server."""

from __future__ import annotations

import httpx
import ollama
import openai
import pytest

from ollamalib.errors import ContextOverflowError, OllamalibError, RequestCancelledError, ServerBusyError
from ollamalib_server._errors import anthropic_error_body, error_status_and_text, openai_error_body


def post(live, path, body=None, *, content=None, method="POST"):
    return httpx.request(method, live.url + path, json=body, content=content, timeout=60)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "missing request body"),
        (b"   \n", "missing request body"),
        (b"x", "invalid character 'x' looking for beginning of value"),
        (b'{"model": "tiny",}', "invalid character '}' looking for beginning of object key string"),
        (b'{"model" "tiny"}', "invalid character '\"' after object key"),
        (b'{"model": "tiny" "prompt": "x"}', "invalid character '\"' after object key:value pair"),
        (b'{"model": "tiny", "context": [1 2]}', "invalid character '2' after array element"),
        (b'{"model": "ti', "unexpected EOF"),
        (b"[1, 2]", "json: cannot unmarshal array into Go value of type api.GenerateRequest"),
        (b'{"model": 5}', "json: cannot unmarshal number into Go struct field GenerateRequest.model of type string"),
        (b'{"model": "tiny", "stream": "yes"}',
         "json: cannot unmarshal string into Go struct field GenerateRequest.stream of type bool"),
        (b'{"model": "tiny", "context": [1.5]}',
         "json: cannot unmarshal number 1.5 into Go struct field GenerateRequest.context of type int"),
        (b'{"model": "tiny", "keep_alive": "3600"}', 'time: missing unit in duration "3600"'),
        (b'{"model": "tiny", "think": "lots"}',
         'invalid think value: "lots" (must be "high", "medium", "low", "max", true, or false)'),
        (b'{"model": "tiny", "top_logprobs": 21}', "top_logprobs must be between 0 and 20"),
        (b'{"model": "tiny", "raw": true, "system": "s"}', "raw mode does not support template, system, or context"),
    ],
)
def test_generate_request_decoding(live, content, message):
    r = post(live, "/api/generate", content=content)
    assert r.status_code == 400
    assert r.json() == {"error": message}


def test_missing_and_unknown_models(live):
    cases = [
        ("/api/generate", {"model": ""}, 404, "model '' not found"),
        ("/api/generate", {"model": "ghost", "prompt": "x"}, 404, "model 'ghost' not found"),
        ("/api/chat", {"model": ""}, 400, "model is required"),
        ("/api/chat", {"model": "ghost", "messages": [{"role": "user", "content": "x"}]}, 404,
         "model 'ghost' not found"),
        ("/api/embed", {"model": "ghost", "input": "x"}, 404, "model 'ghost' not found"),
        ("/api/embeddings", {"model": ""}, 400, "model is required"),
        ("/api/embeddings", {"model": "ghost", "prompt": "x"}, 404, 'model "ghost" not found, try pulling it first'),
        ("/api/show", {}, 400, "model is required"),
        ("/api/show", {"model": "ghost"}, 404, "model 'ghost:latest' not found"),
        ("/api/push", {"model": ""}, 400, "model is required"),
        ("/api/generate", {"model": "bad name!"}, 400, "invalid model name"),
        ("/api/chat", {"model": "a/b/c/d"}, 400, "invalid model name"),
        ("/api/create", {"model": "bad name!", "from": "tiny"}, 400, "invalid model name"),
        ("/api/pull", {"model": "-bad"}, 400, "invalid model name"),
    ]
    for path, body, status, message in cases:
        r = post(live, path, body)
        assert (r.status_code, r.json()) == (status, {"error": message}), (path, body)


def test_capability_errors(live):
    r = post(live, "/api/generate", {"model": "tiny-embed", "prompt": "x"})
    assert (r.status_code, r.json()) == (400, {"error": '"tiny-embed" does not support generate'})
    r = post(live, "/api/chat", {"model": "tiny-embed", "messages": [{"role": "user", "content": "x"}]})
    assert (r.status_code, r.json()) == (400, {"error": '"tiny-embed" does not support chat'})
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
    r = post(live, "/api/chat", {"model": "tiny", "messages": [{"role": "user", "content": "x"}], "tools": [tool]})
    assert (r.status_code, r.json()) == (400, {"error": "registry.ollama.ai/library/tiny:latest does not support tools"})
    r = post(live, "/api/generate", {"model": "tiny", "prompt": "x", "think": True})
    assert (r.status_code, r.json()) == (400, {"error": '"tiny" does not support thinking'})
    r = post(live, "/api/generate", {"model": "tiny", "prompt": "x", "format": "yaml"})
    assert r.status_code == 400
    assert r.json() == {"error": 'invalid format: "yaml"; expected "json" or a valid JSON Schema object'}


def test_option_type_error_is_500_like_ollama(live):
    r = post(live, "/api/generate", {"model": "tiny", "prompt": "x", "options": {"num_predict": "many"}})
    assert (r.status_code, r.json()) == (500, {"error": 'option "num_predict" must be of type integer'})


def test_prompt_too_long_without_shift(live):
    body = {"model": "tiny", "prompt": "the sky is blue " * 200, "shift": False, "truncate": False,
            "options": {"num_ctx": 64, "num_predict": 4}, "stream": False}
    r = post(live, "/api/generate", body)
    assert r.status_code == 400
    assert r.json()["error"].startswith("the prompt is longer than the context length")


def test_out_of_range_keep_alive_means_forever(live):
    r = post(live, "/api/generate", {"model": "hello", "keep_alive": 1e300})
    assert r.status_code == 200 and r.json()["done_reason"] == "load"
    assert httpx.get(live.url + "/api/ps").status_code == 200
    r = post(live, "/api/generate", {"model": "hello", "keep_alive": "99999999h"})
    assert (r.status_code, r.json()) == (400, {"error": 'time: invalid duration "99999999h"'})
    post(live, "/api/generate", {"model": "hello", "keep_alive": "5m"})


def test_embed_input_types(live):
    r = post(live, "/api/embed", {"model": "tiny-embed", "input": [1, 2]})
    assert (r.status_code, r.json()) == (400, {"error": "invalid input type"})
    r = post(live, "/api/embed", {"model": "tiny-embed", "input": {"a": 1}})
    assert (r.status_code, r.json()) == (400, {"error": "invalid input type"})
    r = post(live, "/api/embed", {"model": "tiny-embed", "input": ""})
    assert r.status_code == 200 and r.json()["embeddings"] == []


def test_copy_delete_create_texts(live):
    r = post(live, "/api/copy", {"source": "bad name", "destination": "x"})
    assert (r.status_code, r.json()) == (400, {"error": 'source "bad name" is invalid'})
    r = post(live, "/api/copy", {"source": "tiny", "destination": "-x"})
    assert (r.status_code, r.json()) == (400, {"error": 'destination "-x" is invalid'})
    r = post(live, "/api/copy", {"source": "ghost", "destination": "x"})
    assert (r.status_code, r.json()) == (404, {"error": 'model "ghost" not found'})
    r = post(live, "/api/delete", {"model": "ghost"}, method="DELETE")
    assert (r.status_code, r.json()) == (404, {"error": "model 'ghost' not found"})
    r = post(live, "/api/delete", {"model": "bad name"}, method="DELETE")
    assert (r.status_code, r.json()) == (400, {"error": 'name "bad name" is invalid'})
    r = post(live, "/api/create", {"model": "new"})
    assert (r.status_code, r.json()) == (400, {"error": "neither 'from' or 'files' was specified"})
    r = post(live, "/api/create", {"model": "new", "files": {"/etc/passwd": "sha256:" + "0" * 64}})
    assert (r.status_code, r.json()) == (400, {"error": "file path must be relative"})
    r = post(live, "/api/create", {"model": "new", "files": {"m.gguf": ""}})
    assert (r.status_code, r.json()) == (400, {"error": "invalid digest format"})


def test_blob_digest_rules(live):
    good = "sha256:" + "a" * 64
    assert post(live, "/api/blobs/sha256:123", content=b"x").json() == {"error": "invalid digest format"}
    assert post(live, "/api/blobs/md5:" + "a" * 64, content=b"x").status_code == 400
    r = post(live, f"/api/blobs/{good}", content=b"x")
    assert r.status_code == 400
    assert r.json()["error"].startswith(f'digest mismatch, expected "{good}", got "sha256:')
    assert httpx.head(f"{live.url}/api/blobs/{good}").status_code == 404


def test_router_errors_are_plain_text(live):
    r = httpx.post(live.url + "/api/tags")
    assert (r.status_code, r.text) == (405, "405 method not allowed")
    r = httpx.get(live.url + "/api/generate")
    assert r.status_code == 405
    r = httpx.get(live.url + "/api/nothing-here")
    assert (r.status_code, r.text) == (404, "404 page not found")


def test_official_client_sees_status_and_text(live):
    client = ollama.Client(live.url)
    with pytest.raises(ollama.ResponseError) as info:
        client.generate("ghost", "x")
    assert info.value.status_code == 404 and info.value.error == "model 'ghost' not found"
    with pytest.raises(ollama.ResponseError) as info:
        list(client.generate("ghost", "x", stream=True))
    assert info.value.status_code == 404


def test_cancel_and_busy_map_to_ollama_statuses():
    assert error_status_and_text(RequestCancelledError()) == (499, "request canceled")
    assert error_status_and_text(ServerBusyError()) == (
        503, "server busy, please try again.  maximum pending requests exceeded")


@pytest.mark.parametrize(
    ("path", "body", "status", "kind", "message"),
    [
        ("/v1/chat/completions", {"model": "tiny", "messages": []}, 400, "invalid_request_error",
         "[] is too short - 'messages'"),
        ("/v1/chat/completions", {"model": "ghost", "messages": [{"role": "user", "content": "x"}]}, 404,
         "not_found_error", "model 'ghost' not found"),
        ("/v1/chat/completions", {"model": "tiny", "messages": [{"role": "user", "content": None}]}, 400,
         "invalid_request_error", "invalid message content type: <nil>"),
        ("/v1/chat/completions",
         {"model": "tiny", "messages": [{"role": "user", "content": [{"type": "image_url",
                                                                     "image_url": "https://x/y.png"}]}]},
         400, "invalid_request_error",
         "image URLs are not currently supported, please use base64 encoded data instead"),
        ("/v1/chat/completions", {"model": "tiny", "messages": [{"role": "user", "content": "x"}], "stop": [1]},
         400, "invalid_request_error", "invalid type for 'stop' field: float64"),
        ("/v1/chat/completions",
         {"model": "tiny", "messages": [{"role": "assistant", "content": "",
                                         "tool_calls": [{"id": "c", "type": "function",
                                                         "function": {"name": "f", "arguments": "[1]"}}]}]},
         400, "invalid_request_error", "invalid tool call arguments"),
        ("/v1/completions", {"model": "tiny", "prompt": ["a"]}, 400, "invalid_request_error",
         "json: cannot unmarshal array into Go struct field CompletionRequest.prompt of type string"),
        ("/v1/embeddings", {"model": "tiny-embed", "input": []}, 400, "invalid_request_error", "invalid input"),
        ("/v1/embeddings", {"model": "tiny-embed", "input": "x", "encoding_format": "hex"}, 400,
         "invalid_request_error", "Invalid value for 'encoding_format' = hex. Supported values: ['float', 'base64']."),
        ("/v1/chat/completions", None, 400, "invalid_request_error", "missing request body"),
    ],
)
def test_openai_error_shapes(live, path, body, status, kind, message):
    r = post(live, path, body)
    assert r.status_code == status
    assert r.json() == {"error": {"message": message, "type": kind, "param": None, "code": None}}


def test_openai_client_raises_typed_errors(live):
    client = openai.OpenAI(base_url=live.url + "/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="ghost", messages=[{"role": "user", "content": "x"}])
    assert info.value.body["message"] == "model 'ghost' not found"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("ghost")
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="tiny", messages=[])


def test_both_api_shapes_read_the_error_class_declaration():
    """A type an error class declares reaches the OpenAI and the Anthropic bodies alike; others follow the status."""

    class TeapotError(OllamalibError):
        status_code = 418
        api_types = {"openai": "teapot_error", "anthropic": "teapot_error"}

    teapot = TeapotError("short and stout")
    assert openai_error_body(418, "short and stout", teapot)["error"]["type"] == "teapot_error"
    assert anthropic_error_body(418, "short and stout", teapot)["error"]["type"] == "teapot_error"
    assert openai_error_body(418, "no exception")["error"]["type"] == "api_error"
    assert anthropic_error_body(418, "no exception")["error"]["type"] == "invalid_request_error"
    overflow = ContextOverflowError(100, 64)
    assert openai_error_body(400, str(overflow), ExceptionGroup("g", [overflow]))["error"] == {
        "message": str(overflow), "type": "exceed_context_size_error", "param": None,
        "code": "context_length_exceeded", "n_prompt_tokens": 100, "n_ctx": 64}
