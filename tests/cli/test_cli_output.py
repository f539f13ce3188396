"""Human formats, tables, show sections, streaming display and the error table of the CLI."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest

from ollamalib.errors import CapabilityError, InvalidNameError, ModelNotFoundError
from ollamalib.types import ModelDetails, ShowResponse
from ollamalib_cli._commands.models import processor, until
from ollamalib_cli._commands.run import parse_format, parse_think
from ollamalib_cli._display import AnswerPrinter, WordWrapper
from ollamalib_cli._errors import CONNECT_MESSAGE, CLIError, UsageError, describe
from ollamalib_cli._output import (
    human_bytes,
    human_number,
    human_time,
    metrics_summary,
    render_table,
    truncation_notice,
)
from ollamalib_cli._progress import ProgressView
from ollamalib_cli._showinfo import render_show


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0 B"), (1000, "1000 B"), (1001, "1.0 KB"), (4_700_000_000, "4.7 GB"), (1_234_567, "1.2 MB")],
)
def test_human_bytes_uses_decimal_units(n, text):
    assert human_bytes(n) == text


@pytest.mark.parametrize(("n", "text"), [(8_000_000_000, "8B"), (2_700_000_000, "2.7B"), (268_098_176, "268.1M"),
                                         (999, "999"), (1_500, "1.5K")])
def test_human_number(n, text):
    assert human_number(n) == text


def test_human_time_past_future_and_forever():
    now = datetime(2025, 1, 1, tzinfo=timezone.utc)
    assert human_time(now - timedelta(days=15), now=now) == "2 weeks ago"
    assert human_time(now - timedelta(seconds=30), now=now) == "30 seconds ago"
    assert human_time(now - timedelta(seconds=90), now=now) == "About a minute ago"
    assert human_time(now - timedelta(hours=3), now=now) == "3 hours ago"
    assert human_time(now + timedelta(minutes=4, seconds=30), now=now) == "4 minutes from now"
    assert human_time(now + timedelta(days=365 * 300), now=now) == "Forever"
    assert human_time(None) == "Never"


def test_table_columns_align_and_trailing_space_is_trimmed():
    text = render_table([["tiny:latest", "abc", "1.1 MB"], ["a:b", "defghij", "2 B"]], ["NAME", "ID", "SIZE"])
    assert text.splitlines() == [
        "NAME           ID         SIZE",
        "tiny:latest    abc        1.1 MB",
        "a:b            defghij    2 B",
    ]


def test_processor_and_until_columns():
    assert processor(100, 0) == "100% CPU"
    assert processor(100, 100) == "100% GPU"
    assert processor(100, 52) == "48%/52% CPU/GPU"
    assert processor(100, 200) == "Unknown"
    assert until(datetime.now(timezone.utc) - timedelta(seconds=5)) == "Stopping..."
    assert until(datetime.now(timezone.utc) + timedelta(minutes=4, seconds=30)) == "4 minutes from now"


def test_metrics_summary_has_ollamas_labels():
    text = metrics_summary({"total_duration": 1_500_000_000, "load_duration": 2_000_000, "prompt_eval_count": 10,
                            "prompt_eval_duration": 500_000_000, "eval_count": 20, "eval_duration": 1_000_000_000})
    assert text.splitlines() == [
        "total duration:       1.5s",
        "load duration:        2ms",
        "prompt eval count:    10 token(s)",
        "prompt eval duration: 500ms",
        "prompt eval rate:     20.00 tokens/s",
        "eval count:           20 token(s)",
        "eval duration:        1s",
        "eval rate:            20.00 tokens/s",
    ]


def _show_response(**kw):
    info = {"general.architecture": "llama", "general.parameter_count": 8_030_261_248,
            "llama.context_length": 131072, "llama.embedding_length": 4096,
            "tokenizer.ggml.tokens": ["a", "b", "c", "d", "e", "f"]}
    base = dict(model_info=info, details=ModelDetails(family="llama", parameter_size="8.0B",
                                                      quantization_level="Q4_K_M"),
                capabilities=["completion", "tools"], parameters='stop                           "<|eot_id|>"',
                license="LICENSE LINE 1\nline 2\n\nline 3\n", system="You are helpful.")
    base.update(kw)
    return ShowResponse(**base)


def test_show_sections_match_ollamas_layout():
    text = render_show(_show_response())
    assert text == (
        "  Model\n"
        "    architecture        llama\n"
        "    parameters          8.0B\n"
        "    context length      131072\n"
        "    embedding length    4096\n"
        "    quantization        Q4_K_M\n"
        "\n"
        "  Capabilities\n"
        "    completion\n"
        "    tools\n"
        "\n"
        "  Parameters\n"
        '    stop    "<|eot_id|>"\n'
        "\n"
        "  System\n"
        "    You are helpful.\n"
        "\n"
        "  License\n"
        "    LICENSE LINE 1\n"
        "    line 2\n"
        "    ...\n"
        "\n"
    )


def test_show_verbose_adds_metadata_with_cut_arrays():
    text = render_show(_show_response(), verbose=True)
    assert "  Metadata\n" in text
    assert "general.architecture" in text
    assert "[a b c ...+3 more]" in text


def test_word_wrapper_moves_the_word_crossing_the_margin():
    out = io.StringIO()
    w = WordWrapper(out, enabled=True, width=20)
    w.write("hello there general kenobi")
    # the margin is width - 5 = 15 columns: "general" is backtracked and moved to the next line
    assert out.getvalue() == "hello there gen\x1b[3D\x1b[K\ngeneral kenobi"


def test_word_wrapper_disabled_passes_text_through():
    out = io.StringIO()
    WordWrapper(out, enabled=False, width=20).write("a" * 50)
    assert out.getvalue() == "a" * 50


def test_answer_printer_frames_thinking():
    out = io.StringIO()
    p = AnswerPrinter(out, wordwrap=False, plain=True)
    p.feed(thinking="let me")
    p.feed(thinking=" think")
    p.feed(content="The answer.")
    p.finish()
    assert out.getvalue() == "Thinking...\nlet me think\n...done thinking.\n\nThe answer."
    hidden = io.StringIO()
    q = AnswerPrinter(hidden, wordwrap=False, plain=True, hide_thinking=True)
    q.feed(thinking="secret")
    q.feed(content="ok")
    assert hidden.getvalue() == "ok"
    assert q.thinking == "secret"


def test_answer_printer_reports_tool_calls():
    out = io.StringIO()
    AnswerPrinter(out, wordwrap=False, plain=True).feed(
        tool_calls=[{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}])
    assert out.getvalue() == "  Model called a non-existent function 'get_weather()' with arguments: {\"city\":\"Paris\"}"


def test_plain_progress_prints_statuses_and_bar_ends():
    out = io.StringIO()
    with ProgressView(out, verb="pulling", skip_empty=True, fancy=False) as view:
        view.update({"status": "pulling manifest"})
        view.update({"status": "pulling abc", "digest": "sha256:" + "ab" * 32, "total": 2000})
        view.update({"status": "pulling abc", "digest": "sha256:" + "ab" * 32, "total": 2000, "completed": 1000})
        view.update({"status": "pulling abc", "digest": "sha256:" + "ab" * 32, "total": 2000, "completed": 2000})
        view.update({"status": "success"})
    assert out.getvalue().splitlines() == [
        "pulling manifest",
        "pulling abababababab:  50% 1000 B/2.0 KB",
        "pulling abababababab: 100% 2.0 KB/2.0 KB",
        "success",
    ]


def test_fancy_progress_draws_with_rich():
    out = io.StringIO()
    with ProgressView(out, verb="pulling", fancy=True) as view:
        view.update({"status": "pulling manifest"})
        view.update({"status": "pulling x", "digest": "sha256:" + "cd" * 32, "total": 10**6, "completed": 10**6})
    assert "pulling cdcdcdcdcdcd" in out.getvalue()
    assert "1.0 MB" in out.getvalue()


def test_think_and_format_flags():
    assert parse_think(None) is None
    assert parse_think("true") is True
    assert parse_think("false") is False
    assert parse_think("high") == "high"
    with pytest.raises(UsageError, match='invalid value for --think: "loud"'):
        parse_think("loud")
    assert parse_format("json") == "json"
    assert parse_format('{"type": "object"}') == {"type": "object"}
    assert parse_format(None) is None


@pytest.mark.parametrize(
    ("exc", "message", "code"),
    [
        (ModelNotFoundError("x"), "model 'x' not found", 1),
        (InvalidNameError("invalid model name"), "invalid model name", 1),
        (CapabilityError('"m" does not support generate'), '"m" does not support generate', 1),
        (UsageError("bad flag"), "bad flag", 2),
        (CLIError("couldn't find model \"x\" to stop"), "couldn't find model \"x\" to stop", 1),
        (ConnectionRefusedError(111, "Connection refused"), CONNECT_MESSAGE, 1),
        (FileNotFoundError(2, "No such file or directory", "/x/Modelfile"),
         "open /x/Modelfile: no such file or directory", 1),
    ],
)
def test_error_table(exc, message, code):
    assert describe(exc) == (message, code)


def test_unknown_errors_are_not_in_the_table():
    assert describe(RuntimeError("bug")) is None


def test_library_errors_print_their_api_text():
    """In process and against a server, a command prints the same line (the text Ollama's API answers with)."""
    assert describe(InvalidNameError("invalid model name 'a b': ' ' is not allowed")) == ("invalid model name", 1)


def test_truncation_notice_names_what_was_left_out():
    assert truncation_notice({"done": True}) == ""
    chat = {"truncation": {"n_prompt_tokens": 900, "n_ctx": 512, "n_dropped_tokens": 420, "n_dropped_messages": 3}}
    assert truncation_notice(chat) == ("warning: the prompt (900 tokens) did not fit the context (512 tokens): the 3 "
                                       "oldest message(s) were left out; set a larger num_ctx to keep them\n")
    generate = {"truncation": {"n_prompt_tokens": 90, "n_ctx": 64, "n_dropped_tokens": 30}}
    assert "the 30 oldest token(s) were left out" in truncation_notice(generate)
