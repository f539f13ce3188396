"""The error classes declare their status and API text once; the server, the client and the CLI read them."""

from __future__ import annotations

import pytest

from ollamalib.errors import (
    BadRequestError,
    ContextOverflowError,
    InvalidNameError,
    InvalidOptionError,
    ModelNotFoundError,
    OllamalibError,
    PayloadTooLargeError,
    RequestTimeoutError,
    ResponseNotFoundError,
    ServerBusyError,
    error_from_wire,
    status_api_type,
)


@pytest.mark.parametrize(
    ("error", "status", "text"),
    [
        (InvalidNameError("invalid model name 'a b': ' ' is not allowed in the model part"), 400, "invalid model name"),
        (InvalidNameError("model is required"), 400, "model is required"),
        (InvalidNameError('source "a b" is invalid'), 400, 'source "a b" is invalid'),
        (BadRequestError("missing request body"), 400, "missing request body"),
        (RequestTimeoutError("timed out reading the request body"), 408, "timed out reading the request body"),
        (PayloadTooLargeError("http: request body too large"), 413, "http: request body too large"),
        (ResponseNotFoundError("Response with id 'r1' not found."), 404, "Response with id 'r1' not found."),
    ],
)
def test_each_error_declares_its_status_and_api_text(error, status, text):
    assert (error.status_code, error.api_text) == (status, text)


@pytest.mark.parametrize(
    ("status", "text", "kind"),
    [
        (400, "model is required", InvalidNameError),
        (400, "missing request body", BadRequestError),
        (400, "invalid character 'x' looking for beginning of value", BadRequestError),
        (408, "timed out reading the request body", RequestTimeoutError),
        (404, "Response with id 'r1' not found.", ResponseNotFoundError),
    ],
)
def test_server_texts_read_back_into_the_same_types(status, text, kind):
    err = error_from_wire(status, text)
    assert type(err) is kind and (err.status_code, str(err)) == (status, text)


def test_an_option_type_error_in_a_request_is_a_500_unless_it_says_otherwise():
    assert InvalidOptionError('option "num_ctx" must be of type integer').status_code == 400
    assert InvalidOptionError('option "num_ctx" must be of type integer').scheduled().status_code == 500
    assert InvalidOptionError("invalid x value", status_code=400).scheduled().status_code == 400


def test_a_long_chat_is_refused_before_its_messages_are_converted():
    from ollamalib.requests import ChatRequest

    bad_image = {"role": "user", "content": "x", "images": ["!!"]}  # would fail conversion if it were reached
    with pytest.raises(InvalidOptionError, match=r"^too many messages: 3, more than the 2 allowed"):
        ChatRequest.from_wire({"model": "m", "messages": [bad_image] * 3}, max_messages=2)
    with pytest.raises(InvalidOptionError, match="illegal base64"):
        ChatRequest.from_wire({"model": "m", "messages": [bad_image] * 2}, max_messages=2)


def test_a_body_never_names_a_server_file():
    """``from_wire`` reads image strings as base64 only (a local path is the in-process caller's convenience)."""
    from ollamalib.requests import ChatRequest, GenerateRequest

    with pytest.raises(InvalidOptionError, match="illegal base64"):
        GenerateRequest.from_wire({"model": "m", "images": ["/etc/hostname"]})
    with pytest.raises(InvalidOptionError, match="illegal base64"):
        ChatRequest.from_wire({"model": "m", "messages": [{"role": "user", "content": "", "images": ["/etc/hostname"]}]})


def test_the_api_type_is_the_class_declaration_else_the_status():
    """OpenAI and Anthropic bodies take ``type`` from one rule: what the class declares, else its status's."""
    overflow = ContextOverflowError(100, 64)
    assert (overflow.api_type("openai"), overflow.api_code) == ("exceed_context_size_error", "context_length_exceeded")
    assert overflow.api_type("anthropic") == "invalid_request_error"  # declared for OpenAI only
    assert overflow.fields == {"n_prompt_tokens": 100, "n_ctx": 64}
    missing = ModelNotFoundError("x")
    assert missing.api_type("openai") == missing.api_type("anthropic") == "not_found_error"
    assert (ServerBusyError().api_type("openai"), ServerBusyError().api_type("anthropic")) == ("api_error",
                                                                                               "overloaded_error")
    assert (status_api_type("openai", 418), status_api_type("anthropic", 418)) == ("api_error", "invalid_request_error")
    assert status_api_type("anthropic", 500) == "api_error" and OllamalibError("x").fields == {}

    class TeapotError(OllamalibError):
        status_code = 418
        api_types = {"openai": "teapot_error", "anthropic": "teapot_error"}

    assert TeapotError("short and stout").api_type("anthropic") == "teapot_error"
