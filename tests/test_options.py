"""Options: the table and defaults, FormatParams typing, FromMap checks, merging and Go's printed forms."""

from __future__ import annotations

import json
import logging
import math
import struct

import pytest

from ollamalib.errors import InvalidOptionError
from ollamalib.options import (
    DEFAULT_OPTIONS,
    DEPRECATED_OPTIONS,
    DEPRECATED_PARAMETERS,
    OPTIONS,
    RUNNER_OPTIONS,
    default_options,
    format_parameters,
    format_params,
    merge_options,
    params_json,
    validate_options,
)
from ollamalib.types import Options


def f32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


# --- table and defaults -------------------------------------------------------------------------------------


def test_option_table_matches_ollama_options_struct():
    assert list(OPTIONS) == [
        "num_ctx", "num_batch", "num_gpu", "main_gpu", "use_mmap", "num_thread", "draft_num_predict",
        "num_keep", "seed", "num_predict", "top_k", "top_p", "min_p", "typical_p", "repeat_last_n",
        "temperature", "repeat_penalty", "presence_penalty", "frequency_penalty", "stop",
        "context_overflow",  # ollamalib's extension, after Ollama's own
        "draft_ngram",  # ollamalib's extension too
        "rerank_answer",  # and this one
    ]  # fmt: skip
    kinds = {name: spec.kind for name, spec in OPTIONS.items()}
    assert {k for k, v in kinds.items() if v == "float"} == {
        "top_p", "min_p", "typical_p", "temperature", "repeat_penalty", "presence_penalty", "frequency_penalty",
    }  # fmt: skip
    assert kinds["use_mmap"] == "bool" and kinds["stop"] == "list" and kinds["context_overflow"] == "str"
    assert OPTIONS["context_overflow"].choices == ("truncate", "error")
    assert kinds["rerank_answer"] == "list" and OPTIONS["rerank_answer"].count == 2
    assert RUNNER_OPTIONS == {
        "num_ctx",
        "num_batch",
        "num_gpu",
        "main_gpu",
        "use_mmap",
        "num_thread",
        "draft_num_predict",
    }


def test_every_wire_option_field_is_in_the_table():
    assert set(Options.model_fields) <= set(OPTIONS)


def test_code_defaults():
    assert dict(DEFAULT_OPTIONS) == {
        "num_batch": 512, "num_gpu": -1, "num_thread": 0, "num_keep": 4, "seed": -1, "num_predict": -1,
        "top_k": 40, "top_p": 0.9, "min_p": 0.0, "typical_p": 1.0, "repeat_last_n": 64, "temperature": 0.8,
        "repeat_penalty": 1.0, "presence_penalty": 0.0, "frequency_penalty": 0.0,
    }  # fmt: skip
    with pytest.raises(TypeError):
        DEFAULT_OPTIONS["seed"] = 1  # type: ignore[index]


def test_default_options_take_num_ctx_and_draft():
    opts = default_options(8192)
    assert opts["num_ctx"] == 8192 and opts["draft_num_predict"] == 0 and opts["top_k"] == 40
    assert "stop" not in opts and "use_mmap" not in opts and "main_gpu" not in opts
    assert default_options(4096, has_draft=True)["draft_num_predict"] == 4
    opts["top_k"] = 1
    assert DEFAULT_OPTIONS["top_k"] == 40


def test_deprecated_lists():
    assert DEPRECATED_PARAMETERS == (
        "penalize_newline", "low_vram", "f16_kv", "logits_all", "vocab_only", "use_mlock",
        "mirostat", "mirostat_tau", "mirostat_eta",
    )  # fmt: skip
    assert set(DEPRECATED_OPTIONS) == set(DEPRECATED_PARAMETERS) | {"numa"}
    assert not set(DEPRECATED_OPTIONS) & set(OPTIONS)


# --- FormatParams ---------------------------------------------------------------------------------------------


def test_format_params_types_every_kind():
    out = format_params(
        {
            "num_ctx": ["4096"],
            "temperature": ["0.7"],
            "use_mmap": ["false"],
            "stop": ["<|im_end|>", "User:"],
            "seed": "-1",
        }
    )
    assert out == {"num_ctx": 4096, "temperature": 0.7, "use_mmap": False, "stop": ["<|im_end|>", "User:"], "seed": -1}
    assert type(out["num_ctx"]) is int and type(out["temperature"]) is float


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.7", 0.7),  # float32 0.7 marshals back as 0.7, not 0.699999988079071
        ("1.0", 1.0),
        ("1", 1.0),
        ("-0.5", -0.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("1e-8", 1e-8),
        ("1E3", 1000.0),
        ("+2.5e+1", 25.0),
        ("0.95", 0.95),
        ("0.1", 0.1),
        ("3.4028235e38", 3.4028235e38),
        ("1_000.5", 1000.5),
        ("0x1p-2", 0.25),
        ("0x1.8p1", 3.0),
        ("0x_1p0", 1.0),
        ("1e-50", 0.0),  # underflow is not an error in Go
        ("16777217", 16777216.0),  # rounds to the nearest float32
    ],
)
def test_format_params_float_syntax(text, expected):
    assert format_params({"temperature": [text]})["temperature"] == expected


@pytest.mark.parametrize(("text", "expected"), [("inf", math.inf), ("+Inf", math.inf), ("-infinity", -math.inf)])
def test_format_params_float_infinities(text, expected):
    assert format_params({"top_p": [text]})["top_p"] == expected


def test_format_params_float_nan():
    assert math.isnan(format_params({"top_p": ["NaN"]})["top_p"])


def test_format_params_float_is_float32_value():
    value = format_params({"temperature": ["0.123456789"]})["temperature"]
    assert value == 0.12345679 and f32(value) == f32(0.123456789)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        " 1",
        "1 ",
        "1,5",
        "1e",
        "0x1",
        "0x",
        "1__0",
        "_1",
        "1_",
        "-nan",
        "1e39",
        "-3.5e38",
        "1.2.3",
        "\u0661",  # an Arabic-Indic digit
        "0.7 # note",
    ],
)
def test_format_params_invalid_float(text):
    with pytest.raises(InvalidOptionError) as exc:
        format_params({"temperature": [text]})
    assert str(exc.value) == f"invalid float value [{text}]"


@pytest.mark.parametrize(
    ("text", "expected"), [("0", 0), ("-1", -1), ("+7", 7), ("0042", 42), ("9223372036854775807", 2**63 - 1)]
)
def test_format_params_int(text, expected):
    assert format_params({"num_ctx": [text]}) == {"num_ctx": expected}


@pytest.mark.parametrize(
    "text", ["", "1.0", "1e3", "0x10", "1_000", " 1", "4096 # comment", "9223372036854775808", "٣", "true"]
)
def test_format_params_invalid_int(text):
    with pytest.raises(InvalidOptionError) as exc:
        format_params({"num_ctx": [text]})
    assert str(exc.value) == f"invalid int value [{text}]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", True), ("t", True), ("T", True), ("TRUE", True), ("true", True), ("True", True),
     ("0", False), ("f", False), ("F", False), ("FALSE", False), ("false", False), ("False", False)],
)  # fmt: skip
def test_format_params_bool(text, expected):
    assert format_params({"use_mmap": [text]}) == {"use_mmap": expected}


@pytest.mark.parametrize("text", ["yes", "on", "tRuE", "2", ""])
def test_format_params_invalid_bool(text):
    with pytest.raises(InvalidOptionError) as exc:
        format_params({"use_mmap": [text]})
    assert str(exc.value) == f"invalid bool value [{text}]"


def test_format_params_error_shows_every_value_and_parses_the_first():
    assert format_params({"top_k": ["5", "junk"]}) == {"top_k": 5}
    with pytest.raises(InvalidOptionError, match=r"^invalid int value \[a b c\]$"):
        format_params({"top_k": ["a b", "c"]})


def test_format_params_unknown_and_case_sensitive():
    for name in ("Temperature", "num-ctx", "tfs_z", "numa", ""):
        with pytest.raises(InvalidOptionError) as exc:
            format_params({name: ["1"]})
        assert str(exc.value) == f"unknown parameter '{name}'"


def test_format_params_skips_deprecated_with_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="ollamalib.options"):
        out = format_params({"mirostat": ["2"], "penalize_newline": ["true"], "top_k": ["3"]})
    assert out == {"top_k": 3}
    assert "parameter mirostat is deprecated" in caplog.text
    assert "parameter penalize_newline is deprecated" in caplog.text


# --- FromMap ------------------------------------------------------------------------------------------------


def test_validate_options_accepts_json_values():
    out = validate_options(
        {"temperature": 1, "top_p": 0.5, "num_ctx": 2048.0, "seed": 3.9, "num_predict": -2.7, "use_mmap": True,
         "stop": ["a", "b"], "num_keep": None}
    )  # fmt: skip
    assert out == {
        "temperature": 1.0,
        "top_p": 0.5,
        "num_ctx": 2048,
        "seed": 3,
        "num_predict": -2,
        "use_mmap": True,
        "stop": ["a", "b"],
    }
    assert type(out["temperature"]) is float and type(out["num_ctx"]) is int


def test_validate_options_drops_unknown_with_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="ollamalib.options"):
        out = validate_options({"numa": True, "mirostat": 1, "bogus": "x", "top_k": 5})
    assert out == {"top_k": 5}
    assert "numa" in caplog.text and "bogus" in caplog.text


@pytest.mark.parametrize(
    ("key", "value", "kind"),
    [
        ("num_ctx", "4096", "integer"),
        ("num_ctx", True, "integer"),
        ("num_ctx", [1], "integer"),
        ("num_ctx", math.inf, "integer"),
        ("temperature", "0.7", "float32"),
        ("temperature", False, "float32"),
        ("use_mmap", 1, "boolean"),
        ("use_mmap", "true", "boolean"),
        ("stop", "\n", "array"),
        ("stop", {"a": 1}, "array"),
    ],
)
def test_validate_options_type_errors(key, value, kind):
    with pytest.raises(InvalidOptionError) as exc:
        validate_options({key: value})
    assert str(exc.value) == f'option "{key}" must be of type {kind}'
    assert exc.value.status_code == 400


def test_validate_options_stop_items_must_be_strings():
    with pytest.raises(InvalidOptionError) as exc:
        validate_options({"stop": ["a", 1]})
    assert str(exc.value) == 'option "stop" must be of an array of strings'


def test_validate_options_none_and_empty():
    assert validate_options(None) == {} and validate_options({}) == {}


def test_merge_options_later_layers_win():
    merged = merge_options(
        default_options(4096), None, {"temperature": 0.2, "stop": ["a"]}, {"stop": ["b"], "top_k": None}
    )
    assert (
        merged["temperature"] == 0.2 and merged["stop"] == ["b"] and merged["top_k"] == 40 and merged["num_ctx"] == 4096
    )
    layer = {"stop": ["x"]}
    merge_options(layer)["stop"].append("y")
    assert layer == {"stop": ["x"]}


# --- printed forms ------------------------------------------------------------------------------------------


def test_format_parameters_like_ollama_show():
    text = format_parameters(
        {"num_ctx": 4096, "temperature": 0.7, "top_p": 1.0, "stop": ["<|im_end|>", 'say "hi"\n'], "use_mmap": False}
    )
    assert text.split("\n") == [
        "num_ctx                        4096",
        "temperature                    0.7",
        "top_p                          1",
        'stop                           "<|im_end|>"',
        'stop                           "say \\"hi\\"\\n"',
        "use_mmap                       false",
    ]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1000000, "1e+06"),  # Go prints float64 with %v: exponent form from 1e+06 on
        (999999, "999999"),
        (1048576, "1.048576e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-1, "-1"),
        (0, "0"),
        (1.5e300, "1.5e+300"),
        (0.95, "0.95"),
    ],
)
def test_format_parameters_numbers_as_go_float64(value, shown):
    assert format_parameters({"x": value}) == f"{'x':<30} {shown}"


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("tab\there", '"tab\\there"'),
        ("bell\a\x01\x7f", '"bell\\a\\x01\\x7f"'),
        ("back\\slash", '"back\\\\slash"'),
        ("é 你好 👋", '"é 你好 👋"'),
        ("nbsp\u00a0soft\u00adzw\u200b", '"nbsp\\u00a0soft\\u00adzw\\u200b"'),
        ("private\U000f0000", '"private\\U000f0000"'),
    ],
)
def test_format_parameters_quotes_like_strconv_quote(value, quoted):
    assert format_parameters({"stop": [value]}) == f"{'stop':<30} {quoted}"


def test_format_parameters_empty():
    assert format_parameters({}) == "" and format_parameters(None) == ""


def test_params_json_matches_go_encoder():
    blob = params_json(
        {"temperature": 0.7, "stop": ["<|im_end|>", "a&b"], "num_ctx": 4096, "tiny": 1e-7, "big": 1e21, "flag": True}
    )
    assert blob == (
        b'{"big":1e+21,"flag":true,"num_ctx":4096,"stop":["\\u003c|im_end|\\u003e","a\\u0026b"],'
        b'"temperature":0.7,"tiny":1e-7}\n'
    )
    assert json.loads(blob) == {
        "big": 1e21,
        "flag": True,
        "num_ctx": 4096,
        "stop": ["<|im_end|>", "a&b"],
        "temperature": 0.7,
        "tiny": 1e-7,
    }


def test_params_json_strings_and_plain_numbers():
    blob = params_json({"stop": ['\n\t"\\\b\f\x01\u2028é'], "n": 1e20, "z": -0.0})
    assert blob == b'{"n":100000000000000000000,"stop":["\\n\\t\\"\\\\\\b\\f\\u0001\\u2028\xc3\xa9"],"z":-0}\n'


def test_format_params_output_round_trips_through_json():
    params = format_params({"temperature": ["0.7"], "top_p": ["0.95"], "repeat_penalty": ["1.1"], "num_ctx": ["8192"]})
    assert json.loads(params_json(params)) == params
    assert params_json(params) == b'{"num_ctx":8192,"repeat_penalty":1.1,"temperature":0.7,"top_p":0.95}\n'


def test_context_overflow_is_a_choice_option():
    assert format_params({"context_overflow": "ERROR"}) == {"context_overflow": "error"}
    assert validate_options({"context_overflow": "truncate"}) == {"context_overflow": "truncate"}
    with pytest.raises(InvalidOptionError, match=r'^invalid context_overflow value: "cut" \(must be "truncate" or "error"\)$'):
        format_params({"context_overflow": "cut"})
    with pytest.raises(InvalidOptionError, match='^option "context_overflow" must be of type string$'):
        validate_options({"context_overflow": True})


def test_a_counted_list_option_takes_exactly_its_count():
    assert validate_options({"rerank_answer": ["good", "bad"]}) == {"rerank_answer": ["good", "bad"]}
    assert format_params({"rerank_answer": ["good"]}) == {"rerank_answer": ["good"]}  # one PARAMETER line of several
    for value, text in ((["good"], "rerank_answer takes exactly 2 values, got 1"),
                        ([], "rerank_answer takes exactly 2 values, got 0"),
                        (["a", "b", "c"], "rerank_answer takes exactly 2 values, got 3"),
                        (["", "bad"], "rerank_answer values must not be empty")):
        with pytest.raises(InvalidOptionError, match=f"^{text}$") as e:
            validate_options({"rerank_answer": value})
        assert e.value.scheduled().status_code == 400  # a bad value stays a 400 where type errors become 500s
    with pytest.raises(InvalidOptionError, match='^option "rerank_answer" must be of type array$'):
        validate_options({"rerank_answer": "good"})
