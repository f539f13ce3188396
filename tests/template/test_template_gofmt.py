"""Go's fmt and encoding/json output as the template engine reproduces it, and the Levenshtein distance."""

from __future__ import annotations

import random

import pytest

from ollamalib.template import levenshtein
from ollamalib._go.fmt import go_trim_space, sprint, sprint_value, sprintf, sprintln
from ollamalib._go.strconv import go_quote
from ollamalib._go.json import JSONError, go_json


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (0.5, "0.5"),
        (1e6, "1e+06"),
        (123456.0, "123456"),
        (999999.0, "999999"),
        (1234567.0, "1.234567e+06"),
        (1e-4, "0.0001"),
        (1e-5, "1e-05"),
        (-0.0, "-0"),
        (float("inf"), "+Inf"),
        (float("-inf"), "-Inf"),
        (float("nan"), "NaN"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e21, "1e+21"),
        (1e100, "1e+100"),
        (5e-324, "5e-324"),
        (100.0, "100"),
        (-12.5, "-12.5"),
        (True, "true"),
        (42, "42"),
        (None, "<nil>"),
        ([1, [2, "x"]], "[1 [2 x]]"),
        ({"z": 1, "a": {"k": None}}, "map[a:map[k:<nil>] z:1]"),
        ({2: "b", 10: "c", 1: "a"}, "map[1:a 2:b 10:c]"),
        (b"ab", "[97 98]"),
        (1 + 2j, "(1+2i)"),
    ],
)
def test_default_format(value: object, text: str) -> None:
    assert sprint_value(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (1e6, "1000000"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (1.5e300, "1.5e+300"),
        (123.456, "123.456"),
        (-0.0, "-0"),
        (12345678, "12345678"),
    ],
)
def test_json_numbers(value: float, text: str) -> None:
    assert go_json(value) == text


def test_json_strings() -> None:
    assert go_json("<>&") == '"\\u003c\\u003e\\u0026"'
    assert go_json("\u2028\u2029") == '"\\u2028\\u2029"'
    assert go_json("\x00\x01\x1f") == '"\\u0000\\u0001\\u001f"'
    assert go_json("\b\f\n\r\t") == '"\\b\\f\\n\\r\\t"'
    assert go_json('"\\') == '"\\"\\\\"'
    assert go_json("é😀\x7f/") == '"é😀\x7f/"'
    assert go_json("\udcff") == '"\\ufffd"'


def test_json_containers() -> None:
    assert go_json({"b": [1, 2.5, None, True], "a": {"y": "x"}}) == '{"a":{"y":"x"},"b":[1,2.5,null,true]}'
    assert go_json({1: "x"}) == '{"1":"x"}'
    assert go_json([]) == "[]"
    assert go_json({}) == "{}"
    assert go_json(b"hi") == '"aGk="'
    with pytest.raises(JSONError):
        go_json(float("nan"))
    with pytest.raises(JSONError):
        go_json(object())


def test_quote() -> None:
    assert go_quote('a"b\\') == '"a\\"b\\\\"'
    assert go_quote("\x00\x07\x7f\u00a0é😀\ufeff\n") == '"\\x00\\a\\x7f\\u00a0é😀\\ufeff\\n"'


def test_sprint_spacing() -> None:
    assert sprint(["a", 1, 2, "b", "c", 3.5, None, True]) == "a1 2bc3.5 <nil> true"
    assert sprint([]) == ""
    assert sprintln(["a", 1]) == "a 1\n"


def test_sprintf_flags() -> None:
    assert sprintf("%-8.3s|%8.3s|", ["abcdef", "abcdef"]) == "abc     |     abc|"
    assert sprintf("%+q", ["é"]) == '"\\u00e9"'
    assert sprintf("%x|%X|%#o|%O", [-255, 255, 0, 8]) == "-ff|FF|0|0o10"
    assert sprintf("%#v|%+v", [1, 2]) == "1|2"
    assert sprintf("%5t|%-6v|", [True, False]) == " true|false |"
    assert sprintf("%.2e|%.3g|%g", [123456.0, 0.000012345, 100000.0]) == "1.23e+05|1.23e-05|100000"
    assert sprintf("%08.2f|%+08.2f|% .2f", [-1.5, 1.5, 1.5]) == "-0001.50|+0001.50| 1.50"
    assert sprintf("%6.2f|%-8.2f|", [float("inf"), float("nan")]) == "  +Inf|NaN     |"
    assert sprintf("%d %d", [True, 1.5]) == "%!d(bool=true) %!d(float64=1.5)"
    assert sprintf("%[3]d %[1]d %d", [1, 2, 3]) == "3 1 2"
    assert sprintf("%[5]d", [1]) == "%!d(BADINDEX)"
    assert sprintf("%.*d|%*s", ["x", 1, "y", "z"]) == "%!(BADPREC)1|%!(BADWIDTH)z"
    assert sprintf("%d", [1, "y", None]) == "1%!(EXTRA string=y, <nil>)"


def test_trim_space_is_go_unicode_space() -> None:
    assert go_trim_space("\u00a0\t x \n\u3000") == "x"
    assert go_trim_space("\x1c x") == "\x1c x"


def _dp_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1]


def test_levenshtein_matches_the_textbook_algorithm() -> None:
    rng = random.Random(7)
    for _ in range(1500):
        a = "".join(rng.choice("abcé{") for _ in range(rng.randint(0, 40)))
        b = "".join(rng.choice("abcé{") for _ in range(rng.randint(0, 40)))
        d = _dp_distance(a, b)
        assert levenshtein(a, b) == d
        for bound in (1, 5, 100):
            got = levenshtein(a, b, bound)
            assert got == d if d < bound else got >= bound


@pytest.mark.parametrize(
    ("a", "b", "d"),
    [("", "", 0), ("kitten", "sitting", 3), ("", "abc", 3), ("flaw", "lawn", 2), ("é", "e", 1), ("😀a", "a😀", 2)],
)
def test_levenshtein_examples(a: str, b: str, d: int) -> None:
    assert levenshtein(a, b) == d


def test_levenshtein_is_fast_on_template_sized_text() -> None:
    import time

    rng = random.Random(1)
    a = "".join(rng.choice("abcdefgh{}% ") for _ in range(5000))
    b = a[:2500] + "XYZ" + a[2600:]
    start = time.perf_counter()
    assert levenshtein(a, b) == 100
    assert time.perf_counter() - start < 1.0
