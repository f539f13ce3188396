"""No silent truncation, on every API of a real uvicorn server, through the official unchanged clients.

A prompt longer than num_ctx is cut as Ollama cuts it and the cut is reported (native final chunk, ``usage``,
a log WARNING), or, under ``context_overflow: error`` (the default of the agent APIs), refused with
llama-server's 400 and nothing generated.
"""

from __future__ import annotations

import json
import logging
import re

import anthropic
import httpx
import openai
import pytest

from ollamalib import Client
from ollamalib.errors import ContextOverflowError
from srvutil import HELLO_SCRIPT, start_server_process

LONG = " the" * 300  # about 300 tokens: far past the num_ctx of 64 these tests ask for
SMALL = {"num_ctx": 64, "num_predict": 8}
TEXT = re.compile(r"^request \((\d+) tokens\) exceeds the available context size \(64 tokens\), try increasing it$")


def post(live, path, body, **kw):
    return httpx.post(live.url + path, json=body, timeout=120, **kw)


def predicted(live) -> int:
    """Tokens generated so far by every loaded runner of the server (to show a refusal generated none)."""
    return sum(r.runner.stats().tokens_predicted_total for r in live.engine.engine.scheduler.loaded())


def check_counts(truncation: dict, evaluated: int) -> None:
    """The report's counts: what was kept fits 64 and covers what was evaluated (less when a prefix was cached)."""
    assert truncation["n_ctx"] == 64 and truncation["n_prompt_tokens"] > 64
    assert 0 < evaluated <= truncation["n_prompt_tokens"] - truncation["n_dropped_tokens"] < 64


# --- the default on the native and chat-completions APIs: cut, and say so ------------------------------------


def test_native_generate_reports_the_cut_on_the_final_chunk(live, caplog):
    with caplog.at_level(logging.WARNING, logger="ollamalib.engine"):
        r = post(live, "/api/generate", {"model": "hello", "prompt": LONG, "raw": True, "stream": False,
                                         "options": SMALL})
    body = r.json()
    assert r.status_code == 200 and body["response"] == HELLO_SCRIPT[: len(body["response"])]
    assert body["truncated"] is True and "n_dropped_messages" not in body["truncation"]
    check_counts(body["truncation"], body["prompt_eval_count"])
    t = body["truncation"]
    assert any(f"prompt truncated: {t['n_prompt_tokens']} tokens do not fit the context of 64" in rec.getMessage()
               and rec.levelno == logging.WARNING for rec in caplog.records)

    lines = [json.loads(x) for x in post(live, "/api/generate", {"model": "hello", "prompt": LONG, "raw": True,
                                                                  "options": SMALL}).text.splitlines()]
    assert lines[-1]["done"] and lines[-1]["truncated"] is True
    assert not any("truncated" in x or "truncation" in x for x in lines[:-1])


def test_a_prompt_that_fits_answers_exactly_as_ollama(live):
    body = post(live, "/api/generate", {"model": "hello", "prompt": "Hi", "stream": False, "options": SMALL}).json()
    assert body["done"] and "truncated" not in body and "truncation" not in body
    chat = post(live, "/api/chat", {"model": "hello", "messages": [{"role": "user", "content": "Hi"}],
                                    "stream": False, "options": SMALL}).json()
    assert "truncated" not in chat and "truncation" not in chat


def test_native_chat_reports_dropped_messages(live):
    history = [{"role": "system", "content": "Be kind."}]
    for i in range(12):
        history += [{"role": "user", "content": f"question {i} " + "word " * 8},
                    {"role": "assistant", "content": f"answer {i} " + "word " * 8}]
    history.append({"role": "user", "content": "Hi!"})
    body = post(live, "/api/chat", {"model": "hello", "messages": history, "stream": False,
                                    "options": SMALL}).json()
    assert body["truncated"] is True and body["message"]["content"]
    t = body["truncation"]
    assert 0 < t["n_dropped_messages"] < len(history) - 1
    check_counts(t, body["prompt_eval_count"])


def test_official_ollama_client_is_unaffected(live):
    import ollama

    r = ollama.Client(host=live.url).generate(model="hello", prompt=LONG, raw=True, options=SMALL)
    assert r.done and r.response  # the extension fields do not trouble it


def test_openai_chat_and_completions_report_it_in_usage(live, oa):
    r = oa.chat.completions.create(model="hello", messages=[{"role": "user", "content": LONG}],
                                   extra_body={"options": SMALL})
    usage = r.usage.model_dump()
    assert usage["truncated"] is True
    check_counts(usage["truncation"], r.usage.prompt_tokens)
    chunks = list(oa.chat.completions.create(model="hello", messages=[{"role": "user", "content": LONG}],
                                             stream=True, stream_options={"include_usage": True},
                                             extra_body={"options": SMALL}))
    assert chunks[-1].usage.model_dump()["truncated"] is True
    c = oa.completions.create(model="hello", prompt=LONG, extra_body={"options": SMALL})
    assert c.usage.model_dump()["truncated"] is True
    check_counts(c.usage.model_dump()["truncation"], c.usage.prompt_tokens)
    fits = oa.chat.completions.create(model="hello", messages=[{"role": "user", "content": "Hi"}],
                                      extra_body={"options": SMALL})
    assert "truncated" not in fits.usage.model_dump()


def test_agent_apis_truncate_when_asked(live, oa, claude):
    r = oa.responses.create(model="hello", input=LONG, truncation="auto", extra_body={"options": SMALL})
    assert r.status == "completed" and r.truncation == "auto" and r.output_text
    check_counts(r.usage.model_dump()["truncation"], r.usage.input_tokens)
    m = claude.messages.create(model="hello", max_tokens=8, messages=[{"role": "user", "content": LONG}],
                               extra_body={"context_overflow": "truncate", "options": SMALL})
    assert m.usage.model_dump()["truncated"] is True and m.content[0].text
    check_counts(m.usage.model_dump()["truncation"], m.usage.input_tokens)
    events = post(live, "/v1/messages", {"model": "hello", "max_tokens": 8, "stream": True, "options": SMALL,
                                         "context_overflow": "truncate",
                                         "messages": [{"role": "user", "content": LONG}]}).text
    delta = next(json.loads(line[6:]) for line in events.splitlines()
                 if line.startswith("data: ") and '"message_delta"' in line)
    assert delta["usage"]["truncated"] is True


# --- the error policy: llama-server's 400, nothing generated --------------------------------------------------


def test_native_error_mode(live):
    before = predicted(live)
    for stream in (False, True):
        for path, body in (("/api/generate", {"prompt": LONG}),
                           ("/api/chat", {"messages": [{"role": "user", "content": LONG}]})):
            r = post(live, path, {"model": "hello", "stream": stream, **body,
                                  "options": {**SMALL, "context_overflow": "error"}})
            assert r.status_code == 400, (path, stream, r.text)
            err = r.json()
            assert set(err) == {"error", "n_prompt_tokens", "n_ctx"} and err["n_ctx"] == 64
            assert TEXT.match(err["error"]) and int(TEXT.match(err["error"])[1]) == err["n_prompt_tokens"] > 64
    assert predicted(live) == before  # nothing was generated


def test_openai_error_mode(live, oa):
    before = predicted(live)
    with pytest.raises(openai.BadRequestError) as info:
        oa.chat.completions.create(model="hello", messages=[{"role": "user", "content": LONG}],
                                   extra_body={"context_overflow": "error", "options": SMALL})
    err = info.value
    assert err.status_code == 400 and err.code == "context_length_exceeded" and err.type == "exceed_context_size_error"
    assert TEXT.match(err.body["message"]) and err.body["n_ctx"] == 64 and err.body["n_prompt_tokens"] > 64
    with pytest.raises(openai.BadRequestError, match="exceeds the available context size"):
        oa.completions.create(model="hello", prompt=LONG, stream=True,
                              extra_body={"options": {**SMALL, "context_overflow": "error"}})
    assert predicted(live) == before


def test_responses_refuse_by_default(live, oa):
    before = predicted(live)
    with pytest.raises(openai.BadRequestError) as info:
        oa.responses.create(model="hello", input=LONG, extra_body={"options": SMALL})
    assert info.value.type == "exceed_context_size_error" and info.value.body["n_ctx"] == 64
    with pytest.raises(openai.BadRequestError, match="exceeds the available context size"):
        with oa.responses.stream(model="hello", input=LONG, truncation="disabled",
                                 extra_body={"options": SMALL}) as stream:
            list(stream)
    assert predicted(live) == before
    r = oa.responses.create(model="hello", input="Hi!", extra_body={"options": SMALL})
    assert r.truncation == "disabled" and "truncated" not in r.usage.model_dump()
    bad = post(live, "/v1/responses", {"model": "hello", "input": "Hi", "truncation": "sometimes"})
    assert bad.status_code == 400
    assert bad.json()["error"]["message"] == "Invalid value: 'sometimes'. Supported values are: 'auto' and 'disabled'."


def test_messages_refuse_by_default(live, claude):
    before = predicted(live)
    with pytest.raises(anthropic.BadRequestError) as info:
        claude.messages.create(model="hello", max_tokens=8, messages=[{"role": "user", "content": LONG}],
                               extra_body={"options": SMALL})
    body = info.value.body
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert TEXT.match(body["error"]["message"]) and body["error"]["n_ctx"] == 64
    with pytest.raises(anthropic.BadRequestError, match="exceeds the available context size"):
        with claude.messages.stream(model="hello", max_tokens=8, messages=[{"role": "user", "content": LONG}],
                                    extra_body={"options": SMALL}) as stream:
            list(stream)
    assert predicted(live) == before
    counted = claude.messages.count_tokens(model="hello", messages=[{"role": "user", "content": LONG}],
                                           extra_body={"options": SMALL})
    assert counted.input_tokens > 64  # the whole conversation, however small num_ctx is


def test_setting_changes_every_api_and_a_request_wins(server_factory):
    strict = server_factory(context_overflow="error")
    r = post(strict, "/api/generate", {"model": "hello", "prompt": LONG, "stream": False, "options": SMALL})
    assert r.status_code == 400 and TEXT.match(r.json()["error"])
    r = post(strict, "/api/generate", {"model": "hello", "prompt": LONG, "stream": False,
                                       "options": {**SMALL, "context_overflow": "truncate"}})
    assert r.status_code == 200 and r.json()["truncated"] is True
    lenient = server_factory(context_overflow="truncate")
    r = post(lenient, "/v1/messages", {"model": "hello", "max_tokens": 8, "options": SMALL,
                                       "messages": [{"role": "user", "content": LONG}]})
    assert r.status_code == 200 and r.json()["usage"]["truncated"] is True


def test_library_client_gets_the_typed_error_and_the_report(live):
    with Client(host=live.url) as client:
        with pytest.raises(ContextOverflowError) as info:
            client.generate(model="hello", prompt=LONG, options={**SMALL, "context_overflow": "error"})
        assert info.value.status_code == 400 and info.value.n_ctx == 64 and info.value.n_prompt_tokens > 64
        r = client.generate(model="hello", prompt=LONG, options=SMALL)
        assert r.truncated is True and r.truncation.n_ctx == 64


def test_bad_policy_value_is_a_400_everywhere(live):
    r = post(live, "/api/generate", {"model": "hello", "prompt": "x", "options": {"context_overflow": "drop"}})
    assert (r.status_code, r.json()) == (400, {"error": 'invalid context_overflow value: "drop" (must be "truncate" '
                                                        'or "error")'})
    r = post(live, "/v1/chat/completions", {"model": "hello", "messages": [{"role": "user", "content": "x"}],
                                            "context_overflow": 3})
    assert r.status_code == 400 and "context_overflow" in r.json()["error"]["message"]


def test_served_process_writes_the_warning_to_server_log(tmp_path, server_models):
    srv = start_server_process(tmp_path, server_models, OLLAMALIB_CONTEXT_OVERFLOW="truncate")
    try:
        r = post(srv, "/v1/messages", {"model": "hello", "max_tokens": 4, "options": SMALL,
                                        "messages": [{"role": "user", "content": LONG}]})
        assert r.status_code == 200 and r.json()["usage"]["truncated"] is True  # the setting beat the default
        n = r.json()["usage"]["truncation"]["n_prompt_tokens"]
    finally:
        srv.stop()
    log = (tmp_path / "data" / "server.log").read_text()
    assert "OLLAMALIB_CONTEXT_OVERFLOW:truncate" in log  # the startup config line
    line = next(x for x in log.splitlines() if "prompt truncated" in x)
    assert "level=WARNING" in line and f"{n} tokens do not fit the context of 64 (model hello)" in line
