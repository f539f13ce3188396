"""The error classes declare their status and API text once; the server, the client and the CLI read them."""

from __future__ import annotations

import pytest

from ollamalib.errors import (
    BadRequestError,
    InvalidNameError,
    InvalidOptionError,
    PayloadTooLargeError,
    RequestTimeoutError,
    ResponseNotFoundError,
    error_from_wire,
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
