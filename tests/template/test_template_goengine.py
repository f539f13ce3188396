"""Go text/template constructs, each checked against the output Go produces for it."""

from __future__ import annotations

from typing import Any

import pytest

from ollamalib.errors import TemplateError
from ollamalib.template import GoTemplate, TemplateExecError, TemplateSyntaxError
from ollamalib.types import Message


def run(text: str, data: Any = None, **kwargs: Any) -> str:
    return GoTemplate(text, **kwargs).execute(data)


def exec_error(text: str, data: Any = None, **kwargs: Any) -> TemplateExecError:
    with pytest.raises(TemplateExecError) as info:
        run(text, data, **kwargs)
    return info.value


def parse_error(text: str) -> TemplateSyntaxError:
    with pytest.raises(TemplateSyntaxError) as info:
        GoTemplate(text)
    return info.value


# --- text, trimming and comments ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain text", "plain text"),
        ("a  {{- 1 -}}  b", "a1b"),
        ("a \n\t{{- /* comment */ -}}\n b", "ab"),
        ("a{{/* comment */}}b", "ab"),
        ("{{-3}}", "-3"),
        ("x {{ 3 }} y", "x 3 y"),
        ("a\n{{- if true }}\nb\n{{- end }}\nc", "a\nb\nc"),
        ("{{ 1 }}\n  {{- 2 }}", "12"),
        ("a\r\n\t {{- 1 }}", "a1"),
        ("{{ 1 -}}\n\n\t x", "1x"),
        ("{{- 1 }}", "1"),
        ("{{ 1 }}{{/* a\nmultiline\ncomment */}}{{ 2 }}", "12"),
        ("a {{- 1}} b", "a1 b"),
    ],
)
def test_text_and_trimming(text: str, expected: str) -> None:
    assert run(text) == expected


def test_newlines_inside_actions() -> None:
    assert run("{{ printf\n  \"%s-%s\"\n  .A\n  .B }}", {"A": "a", "B": "b"}) == "a-b"


# --- variables ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "data", "expected"),
    [
        ('{{ $x := "a" }}{{ $x }}{{ $x = "b" }}{{ $x }}', None, "ab"),
        ("{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}", None, "21"),
        ("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", None, "2"),
        ('{{ $s := "" }}{{ range .L }}{{ $s = print $s . }}{{ end }}{{ $s }}', {"L": ["a", "b"]}, "ab"),
        ("{{ range .L }}{{ $.N }}{{ end }}", {"N": 1, "L": [0, 0]}, "11"),
        ("{{ range $i, $v := .L }}{{ $i }}:{{ $v }} {{ end }}", {"L": ["a", "b"]}, "0:a 1:b "),
        ("{{ range $v := .L }}{{ $v }}{{ end }}", {"L": ["a", "b"]}, "ab"),
        ('{{ $x := "z" }}{{ range $x = .L }}{{ end }}{{ $x }}', {"L": ["a", "b"]}, "b"),
        ('{{ $i := 9 }}{{ $v := "" }}{{ range $i, $v = .L }}{{ end }}{{ $i }}{{ $v }}', {"L": ["a", "b"]}, "1b"),
        ("{{ with $x := .A }}{{ $x }}{{ end }}", {"A": "v"}, "v"),
        ("{{ $x := .Missing }}{{ $x }}", {}, "<no value>"),
        ("{{ $ }}", "root", "root"),
    ],
)
def test_variables(text: str, data: Any, expected: str) -> None:
    assert run(text, data) == expected


def test_variables_do_not_leak_into_templates() -> None:
    err = parse_error('{{ $x := 1 }}{{ define "T" }}{{ $x }}{{ end }}')
    assert str(err) == 'template: :1: undefined variable "$x"'


def test_assigning_an_undeclared_variable_fails_when_executed() -> None:
    err = exec_error("{{ $x = 1 }}")
    assert str(err) == 'template: :1:8: executing "" at <1>: undefined variable: $x'


# --- if / else / with -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "truth"),
    [
        (0, False),
        (1, True),
        (-1, True),
        (0.0, False),
        (0.5, True),
        ("", False),
        ("0", True),
        ([], False),
        ([0], True),
        ({}, False),
        ({"a": 0}, True),
        (None, False),
        (False, False),
        (True, True),
        (Message(role="user"), True),
    ],
)
def test_truth(value: Any, truth: bool) -> None:
    assert run("{{ if .V }}T{{ else }}F{{ end }}", {"V": value}) == ("T" if truth else "F")
    assert run("{{ if not .V }}F{{ else }}T{{ end }}", {"V": value}) == ("T" if truth else "F")


def test_missing_key_is_false() -> None:
    assert run("{{ if .Missing }}a{{ else }}b{{ end }}", {}) == "b"


@pytest.mark.parametrize(
    ("text", "data", "expected"),
    [
        ('{{ if 0 }}a{{ else if "" }}b{{ else if .L }}c{{ else }}d{{ end }}', {"L": []}, "d"),
        ('{{ if 0 }}a{{ else if "x" }}b{{ else }}d{{ end }}', None, "b"),
        ("{{ with .A }}{{ . }}{{ end }}", {"A": "x"}, "x"),
        ("{{ with .A }}y{{ else }}n{{ end }}", {"A": ""}, "n"),
        ("{{ with .A }}a{{ else with .B }}b{{ . }}{{ end }}", {"A": 0, "B": 7}, "b7"),
        ("{{ with .A }}{{ .B }}{{ end }}", {"A": {"B": "inner"}}, "inner"),
    ],
)
def test_conditionals(text: str, data: Any, expected: str) -> None:
    assert run(text, data) == expected


# --- range ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "data", "expected"),
    [
        ("{{ range $k, $v := .M }}{{ $k }}{{ $v }}{{ end }}", {"M": {"b": 2, "a": 1, "c": 3}}, "a1b2c3"),
        ("{{ range .M }}{{ . }}{{ end }}", {"M": {"b": 2, "a": 1, "C": 3}}, "312"),
        ("{{ range $k, $v := .M }}{{ $k }}{{ $v }}{{ end }}", {"M": {3: "c", 10: "x", 1: "a"}}, "1a3c10x"),
        ("{{ range 3 }}{{ . }}{{ end }}", None, "012"),
        ("{{ range $i := 3 }}{{ $i }}{{ end }}", None, "012"),
        ("{{ range 0 }}x{{ else }}none{{ end }}", None, "none"),
        ("{{ range .L }}x{{ else }}empty{{ end }}", {"L": []}, "empty"),
        ("{{ range .L }}x{{ else }}empty{{ end }}", {}, "empty"),
        ("{{ range .M }}x{{ else }}empty{{ end }}", {"M": None}, "empty"),
        (
            "{{ range $i, $v := .L }}{{ if eq $i 1 }}{{ continue }}{{ end }}"
            "{{ if eq $i 3 }}{{ break }}{{ end }}{{ $v }}{{ end }}",
            {"L": ["a", "b", "c", "d", "e"]},
            "ac",
        ),
        ("{{ range .L }}{{ range . }}{{ . }}{{ end }};{{ end }}", {"L": [[1, 2], [3]]}, "12;3;"),
        ("{{ range .L }}{{ . }}{{ end }}", {"L": [None, 1]}, "<no value>1"),
        ("{{ range .B }}{{ . }},{{ end }}", {"B": b"hi"}, "104,105,"),
    ],
)
def test_range(text: str, data: Any, expected: str) -> None:
    assert run(text, data) == expected


def test_range_over_a_string_fails() -> None:
    err = exec_error("{{ range .S }}{{ end }}", {"S": "abc"})
    assert str(err) == 'template: :1:9: executing "" at <.S>: range can\'t iterate over abc'


def test_range_over_an_int_with_two_variables_fails() -> None:
    err = exec_error("{{ range $i, $v := 3 }}{{ end }}")
    assert "can't use 3 to iterate over more than one variable" in str(err)


def test_break_outside_range_is_a_parse_error() -> None:
    assert str(parse_error("{{ break }}")) == "template: :1: {{break}} outside {{range}}"
    assert str(parse_error("{{ range . }}{{ else }}{{ continue }}{{ end }}")) == (
        "template: :1: {{continue}} outside {{range}}"
    )


# --- pipelines, parentheses, fields ---------------------------------------------------------------------


class Greeter:
    def __init__(self) -> None:
        self.Name = "obj"
        self.nested = {"k": "v"}

    def Greet(self, who: str) -> str:  # noqa: N802 - exported Go-style method name
        return f"hi {who}"


@pytest.mark.parametrize(
    ("text", "data", "expected"),
    [
        ('{{ "x" | printf "%s-%s" "a" }}', None, "a-x"),
        ('{{ printf "%d" (len .L) }}', {"L": [1, 2]}, "2"),
        ("{{ (index .L 1) }}", {"L": ["a", "b"]}, "b"),
        ("{{ (index .L 0).Name }}", {"L": [{"Name": "n"}]}, "n"),
        ("{{ .M.a.b }}", {"M": {"a": {"b": "deep"}}}, "deep"),
        ('{{ .Obj.Greet "x" }}', {"Obj": Greeter()}, "hi x"),
        ('{{ "y" | .Obj.Greet }}', {"Obj": Greeter()}, "hi y"),
        ("{{ .Obj.Name }} {{ .Obj.Nested.k }}", {"Obj": Greeter()}, "obj v"),
        ("{{ .Role }}/{{ .Content }}", Message(role="User", content="c"), "user/c"),
        ('{{ .A | len | printf "%03d" }}', {"A": "abcd"}, "004"),
        ("{{ .F 3 }}", {"F": lambda: 1}, None),
    ],
)
def test_pipelines_and_fields(text: str, data: Any, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(TemplateError):
            run(text, data)
    else:
        assert run(text, data) == expected


# --- builtin functions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "data", "expected"),
    [
        ("{{ and 1 0 2 }}", None, "0"),
        ("{{ and 1 2 }}", None, "2"),
        ('{{ or 0 "" "x" }}', None, "x"),
        ('{{ or 0 "" }}', None, ""),
        ("{{ and 0 (index .L 10) }}", {"L": []}, "0"),
        ("{{ or 1 .A.B.C }}", {}, "1"),
        ('{{ "" | or "x" }}', None, "x"),
        ("{{ not 0 }} {{ not 1 }} {{ not .L }}", {"L": [1]}, "true false false"),
        ('{{ eq "a" "a" }} {{ eq 1 2 3 1 }} {{ eq .Missing "x" }} {{ eq .Missing .Other }}', {}, "true true false true"),
        ("{{ ne 1 2 }} {{ lt 1 2 }} {{ le 2 2 }} {{ gt \"b\" \"a\" }} {{ ge 1.5 1.5 }}", None, "true true true true true"),
        ('{{ lt "a" "b" }} {{ lt "é" "z" }} {{ gt 2 1 }}', None, "true false true"),
        ('{{ len "héllo" }} {{ len .L }} {{ len .M }}', {"L": [1, 2], "M": {"a": 1}}, "6 2 1"),
        ('{{ index .L 1 }} {{ index .M "k" }} {{ index "abc" 1 }} {{ index .LL 1 0 }}',
         {"L": [1, 2], "M": {"k": "v"}, "LL": [[1], [2]]}, "2 v 98 2"),
        ('{{ index .M "zz" }}', {"M": {"k": "v"}}, "<no value>"),
        ("{{ index .L }}", {"L": [1]}, "[1]"),
        ('{{ slice .L 1 }} {{ slice "abcdef" 1 3 }} {{ slice .L 1 2 3 }} {{ slice .L }}', {"L": ["a", "b", "c"]},
         "[b c] bc [b] [a b c]"),
        ('{{ print 1 2 "a" "b" 3 }}', None, "1 2ab3"),
        ('{{ println "a" 1 }}', None, "a 1\n"),
        ('{{ print }}|{{ println }}|', None, "|\n|"),
        ("{{ html \"<a href='x'>&\\\"\" }}", None, "&lt;a href=&#39;x&#39;&gt;&amp;&#34;"),
        ('{{ js "a\'b\\"<>=&\\\\" }}', None, "a\\'b\\\"\\u003C\\u003E\\u003D\\u0026\\\\"),
        ('{{ urlquery "a b&c/é" }}', None, "a+b%26c%2F%C3%A9"),
        ('{{ html .A 1 }}', {"A": "<"}, "&lt;1"),
        ("{{ call .F 21 }}", {"F": lambda x: x * 2}, "42"),
        ('{{ printf "%s=%d" "n" 5 }}', None, "n=5"),
    ],
)
def test_builtins(text: str, data: Any, expected: str) -> None:
    assert run(text, data) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{{ eq 1 "a" }}', 'template: :1:3: executing "" at <eq 1 "a">: error calling eq: '
         "incompatible types for comparison: int and string"),
        ("{{ eq 1 1.0 }}", 'template: :1:3: executing "" at <eq 1 1.0>: error calling eq: '
         "incompatible types for comparison: int and float64"),
        ("{{ lt true false }}", 'template: :1:3: executing "" at <lt true false>: error calling lt: '
         "invalid type for comparison"),
        ("{{ eq 1 }}", 'template: :1:3: executing "" at <eq 1>: error calling eq: missing argument for comparison'),
        ("{{ len 3 }}", 'template: :1:3: executing "" at <len 3>: error calling len: len of type int'),
        ("{{ len }}", 'template: :1:3: executing "" at <len>: wrong number of args for len: want 1 got 0'),
        ("{{ not 1 2 }}", 'template: :1:3: executing "" at <not>: wrong number of args for not: want 1 got 2'),
        ("{{ and }}", 'template: :1:3: executing "" at <and>: wrong number of args for and: want at least 1 got 0'),
        ("{{ index .L 5 }}", 'template: :1:3: executing "" at <index .L 5>: error calling index: '
         "index out of range: 5"),
        ('{{ index .L "a" }}', 'template: :1:3: executing "" at <index .L "a">: error calling index: '
         "cannot index slice/array with type string"),
        ("{{ index .M 1 }}", 'template: :1:3: executing "" at <index .M 1>: error calling index: '
         "value has type int; should be string"),
        ("{{ slice .L 2 1 }}", 'template: :1:3: executing "" at <slice .L 2 1>: error calling slice: '
         "invalid slice index: 2 > 1"),
        ("{{ printf 1 }}", 'template: :1:10: executing "" at <1>: expected string; found 1'),
        ("{{ printf .L }}", 'template: :1:10: executing "" at <.L>: wrong type for value; expected string; '
         "got []interface {}"),
        ("{{ nil }}", 'template: :1:3: executing "" at <nil>: nil is not a command'),
        ("{{ call .L }}", 'template: :1:3: executing "" at <call .L>: error calling call: '
         "non-function of type []interface {}"),
    ],
)
def test_builtin_errors(text: str, message: str) -> None:
    assert str(exec_error(text, {"L": [1, 2, 3], "M": {"k": "v"}})) == message


# --- define / template / block --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "data", "expected"),
    [
        ('{{ define "T" }}<{{ . }}>{{ end }}{{ template "T" "x" }}{{ template "T" }}', None, "<x><<no value>>"),
        ('{{ block "B" .A }}[{{ . }}]{{ end }}', {"A": "a"}, "[a]"),
        ('{{ define "T" }}{{ .N }}{{ if gt .N 0 }},{{ template "T" .Next }}{{ end }}{{ end }}{{ template "T" . }}',
         {"N": 2, "Next": {"N": 1, "Next": {"N": 0}}}, "2,1,0"),
        ('{{ define "T" }}{{ $ }}{{ end }}{{ $x := 1 }}{{ template "T" 5 }}', None, "5"),
        ('{{ define "A" }}a{{ end }}{{ define "B" }}b{{ template "A" }}{{ end }}{{ template "B" }}', None, "ba"),
    ],
)
def test_templates(text: str, data: Any, expected: str) -> None:
    assert run(text, data) == expected


def test_defined_templates_are_executable_by_name() -> None:
    t = GoTemplate('main{{ define "x" }}[{{ . }}]{{ end }}')
    assert t.execute() == "main"
    assert t.execute("v", name="x") == "[v]"


def test_undefined_template() -> None:
    err = exec_error('{{ template "nope" }}')
    assert str(err) == 'template: :1:12: executing "" at <{{template "nope"}}>: template "nope" not defined'


def test_error_inside_a_template_names_it() -> None:
    err = exec_error('{{ define "T" }}{{ .X.Y }}{{ end }}{{ template "T" . }}', {"X": 1})
    assert str(err) == 'template: :1:21: executing "T" at <.X.Y>: can\'t evaluate field Y in type int'


def test_multiple_definitions() -> None:
    err = parse_error('{{ define "a" }}x{{ end }}{{ define "a" }}y{{ end }}')
    assert str(err) == 'template: :1: template: multiple definition of template "a"'
    # an empty redefinition is allowed
    assert GoTemplate('{{ define "a" }}x{{ end }}{{ define "a" }}{{ end }}{{ template "a" }}').execute() == "x"


# --- nil, zero and missing values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "data", "expected"),
    [
        ("{{ .Missing }}", {}, "<no value>"),
        ("{{ print .Missing }}", {}, "<nil>"),
        ("{{ .M.missing }}", {"M": {}}, "<no value>"),
        ("{{ .Nil }}", {"Nil": None}, "<no value>"),
        ('{{ printf "%v" nil }}', None, "<nil>"),
        ("{{ . }}", None, "<no value>"),
        ("{{ .L }}", {"L": [1, "a", None, True, 1.5]}, "[1 a <nil> true 1.5]"),
        ("{{ .M }}", {"M": {"b": ["x", "y"], "a": 1}}, "map[a:1 b:[x y]]"),
        ("{{ .E }}|{{ .EM }}", {"E": [], "EM": {}}, "[]|map[]"),
        ("{{ .B }}", {"B": b"\x01\x02"}, "[1 2]"),
        ("{{ true }} {{ false }}", None, "true false"),
        ('{{ "s" }} {{ `raw\\n` }} {{ "esc\\t\\u00e9" }}', None, "s raw\\n esc\té"),
        ("{{ 'a' }} {{ '\\n' }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1_000 }}", None, "97 10 31 15 5 1000"),
        ("{{ 1.0 }} {{ 1.5 }} {{ 1e6 }} {{ 2e-5 }} {{ 0x1p-2 }}", None, "1 1.5 1e+06 2e-05 0.25"),
        ("{{ .F }}", {"F": 123456.789}, "123456.789"),
        ("{{ .F }} {{ .G }} {{ .H }}", {"F": 1e21, "G": 1234567.0, "H": -0.0}, "1e+21 1.234567e+06 -0"),
        ("{{ .I }}", {"I": 2**40}, "1099511627776"),
        ("{{ 1+2i }}", None, "(1+2i)"),
    ],
)
def test_values_print_like_go(text: str, data: Any, expected: str) -> None:
    assert run(text, data) == expected


def test_missingkey_modes() -> None:
    assert run("{{ .Missing.Field }}", {}, missingkey="default") == "<no value>"
    err = exec_error("{{ .Missing.Field }}", {})
    assert str(err) == 'template: :1:11: executing "" at <.Missing.Field>: nil pointer evaluating interface {}.Field'
    err = exec_error("{{ .Missing }}", {}, missingkey="error")
    assert str(err) == 'template: :1:3: executing "" at <.Missing>: map has no entry for key "Missing"'


# --- printf ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "args", "expected"),
    [
        ("%s|%v|%d", '"x" "y" 3', "x|y|3"),
        ("%5s|%-5s|", '"ab" "ab"', "   ab|ab   |"),
        ("%05d|%+d|% d|%x|%X|%#x|%o|%#o|%b", "-42 5 5 255 255 255 8 8 5", "-0042|+5| 5|ff|FF|0xff|10|010|101"),
        ("%c|%U|%q", "65 128512 65", "A|U+1F600|'A'"),
        ("%q|%#q", '"a\\"b\\n" "ab"', '"a\\"b\\n"|`ab`'),
        ("%x|% x|%X", '"hi" "hi" "hi"', "6869|68 69|6869"),
        ("%.3s|%.0s|%10.2q", '"abcdef" "x" "abcdef"', 'abc||      "ab"'),
        ("%f|%.2f|%8.3f|%-8.2f|", "3.14159 3.14159 3.14159 3.14159", "3.141590|3.14|   3.142|3.14    |"),
        ("%e|%E|%g|%G|%.3g", "3.14159 3.14159 3.14159 1e21 1234.5678", "3.141590e+00|3.141590E+00|3.14159|1E+21|1.23e+03"),
        ("%6.2f|%08.3f|%+.1e", "3.14159 -3.14159 31415.9", "  3.14|-003.142|+3.1e+04"),
        ("%t|%v", "true false", "true|false"),
        ("100%%", "", "100%"),
        ("%d", '"x"', "%!d(string=x)"),
        ("%s", "1", "%!s(int=1)"),
        ("%d|%s", "", "%!d(MISSING)|%!s(MISSING)"),
        ("%d", "1 2", "1%!(EXTRA int=2)"),
        ("%", "", "%!(NOVERB)"),
        ("%*d|%.*f", "5 3 2 3.14159", "    3|3.14"),
        ("%[2]d %[1]d", "1 2", "2 1"),
        ("%T %T %T %T", '1 "s" 1.5 true', "int string float64 bool"),
        ("%05s|%-05d|", '"ab" 3', "000ab|3    |"),
        ("%v|%s|%d", "nil nil nil", "<nil>|%!s(<nil>)|%!d(<nil>)"),
        ("%.0f %.0f %.1f", "0.5 1.5 0.25", "0 2 0.2"),
        ("%v %v", "1e100 0.000001", "1e+100 1e-06"),
    ],
)
def test_printf(fmt: str, args: str, expected: str) -> None:
    assert run(f'{{{{ printf "{fmt}" {args} }}}}') == expected


def test_printf_of_composites() -> None:
    data = {"L": [1, "a", None], "M": {"b": 1, "a": [2, 3]}, "E": [1, 2]}
    assert run('{{ printf "%v|%v|%d|%03d" .L .M .E .E }}', data) == "[1 a <nil>]|map[a:[2 3] b:1]|[1 2]|[001 002]"


# --- Ollama's functions ---------------------------------------------------------------------------------


def test_json_function() -> None:
    data = {"a": "<b>&", "n": 1.5, "i": 3, "l": [True, None], "u": "é\u2028"}
    assert run("{{ json . }}", data) == '{"a":"\\u003cb\\u003e\\u0026","i":3,"l":[true,null],"n":1.5,"u":"é\\u2028"}'
    assert run("{{ json .Missing }}", {}) == "null"
    assert run("{{ json .F }}", {"F": float("nan")}) == ""


def test_date_functions() -> None:
    import datetime as dt

    today = dt.datetime.now().strftime("%Y-%m-%d")
    yesterday = (dt.datetime.now() - dt.timedelta(days=1)).strftime("%Y-%m-%d")
    assert run('{{ currentDate }} {{ currentDate "ignored" }} {{ yesterdayDate }}') in (
        f"{today} {today} {yesterday}",
        # the day may turn while the test runs
        f"{dt.datetime.now().strftime('%Y-%m-%d')} " * 2 + today,
    )


def test_ollama_functions_can_be_left_out() -> None:
    assert str(parse_error_with(lambda: GoTemplate("{{ json . }}", ollama=False))) == (
        'template: :1: function "json" not defined'
    )


def parse_error_with(fn: Any) -> TemplateSyntaxError:
    with pytest.raises(TemplateSyntaxError) as info:
        fn()
    return info.value


def test_custom_python_functions() -> None:
    t = GoTemplate("{{ upper .A }} {{ .A | upper }} {{ fail }}", funcs={"upper": str.upper, "fail": lambda: 1 / 0})
    with pytest.raises(TemplateExecError) as info:
        t.execute({"A": "x"})
    assert str(info.value) == 'template: :1:35: executing "" at <fail>: error calling fail: division by zero'
    assert GoTemplate("{{ upper .A }} {{ .A | upper }}", funcs={"upper": str.upper}).execute({"A": "x"}) == "X X"


# --- parse errors and positions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("{{", "template: :1: unclosed action", 1),
        ("{{ .Foo", "template: :1: unclosed action", 1),
        ("{{ .Foo\n\n", "template: :3: unclosed action started at :1", 3),
        ("{{end}}", "template: :1: unexpected {{end}}", 1),
        ("{{ else }}", "template: :1: unexpected {{else}}", 1),
        ("{{ if .X }}", "template: :1: unexpected EOF", 1),
        ("line1\nline2 {{ if }}", "template: :2: missing value for if", 2),
        ("{{ foo }}", 'template: :1: function "foo" not defined', 1),
        ("{{ $x }}", 'template: :1: undefined variable "$x"', 1),
        ("{{ .X | 1 }}", "template: :1: non executable command in pipeline stage 2", 1),
        ("{{ 1.2.3 }}", 'template: :1: unexpected ".3" in operand', 1),
        ('{{ "abc }}', "template: :1: unterminated quoted string", 1),
        ("{{ `abc }}", "template: :1: unterminated raw quoted string", 1),
        ("{{ (1 }}", "template: :1: unclosed left paren", 1),
        ("{{ ) }}", "template: :1: unexpected right paren", 1),
        ("{{/* c }}", "template: :1: unclosed comment", 1),
        ("{{/* c */ x}}", "template: :1: comment ends before closing delimiter", 1),
        ("{{ /* c */ }}", 'template: :1: unexpected "/" in command', 1),
        ("{{ .X. }}", "template: :1: unexpected <.> in operand", 1),
        ("{{ 089 }}", 'template: :1: integer overflow: "089"', 1),
        ("{{ 'ab' }}", "template: :1: malformed character constant: 'ab'", 1),
        ('{{ "\\q" }}', "template: :1: invalid syntax", 1),
        ("{{ .A := 1 }}", 'template: :1: unexpected ":=" in operand', 1),
        ("{{ range $a, $b, $c := . }}{{end}}", "template: :1: too many declarations in range", 1),
        ("{{ $a, $b := 1 }}", "template: :1: too many declarations in command", 1),
        ("{{ .A x }}", "template: :1: function \"x\" not defined", 1),
        ("{{ 3abc }}", 'template: :1: bad number syntax: "3a"', 1),
        ("{{ .Ab$ }}", "template: :1: bad character U+0024 '$'", 1),
        ("{{ if . }}{{ else }}{{ else }}{{ end }}", "template: :1: expected end; found {{else}}", 1),
        ("{{ true.x }}", 'template: :1: unexpected . after term "true"', 1),
        ("{{ range $x := . | $y }}{{ end }}", 'template: :1: undefined variable "$y"', 1),
        ('{{ template . }}', "template: :1: unexpected <.> in template clause", 1),
        ("{{ é }}", "template: :1: function \"é\" not defined", 1),
        ("{{ \x01 }}", "template: :1: unrecognized character in action: U+0001", 1),
    ],
)
def test_parse_errors(text: str, message: str, line: int) -> None:
    err = parse_error(text)
    assert str(err) == message
    assert err.line == line
    assert err.column is not None


def test_exec_error_positions() -> None:
    err = exec_error("a\nbb {{ .X.Y }}", {"X": "s"})
    assert str(err) == 'template: :2:8: executing "" at <.X.Y>: can\'t evaluate field Y in type string'
    assert (err.line, err.column) == (2, 8)
    # columns count bytes, as Go's do
    err = exec_error("é {{ .X.Y }}", {"X": "s"})
    assert str(err).startswith("template: :1:8: ")


def test_fields_of_non_maps() -> None:
    assert str(exec_error("{{ .A.B }}", {"A": 1})) == (
        'template: :1:5: executing "" at <.A.B>: can\'t evaluate field B in type int'
    )
    assert str(exec_error("{{ .A.B }}", {"A": [1]})) == (
        'template: :1:5: executing "" at <.A.B>: can\'t evaluate field B in type []interface {}'
    )
    assert str(exec_error('{{ .A "x" }}', {"A": "s"})) == (
        'template: :1:3: executing "" at <.A>: A is not a method but has arguments'
    )


def test_template_errors_are_library_errors() -> None:
    err = parse_error("{{")
    assert isinstance(err, TemplateError)
    assert isinstance(err, ValueError)
    assert err.status_code == 400


def test_parse_is_cached() -> None:
    a = GoTemplate("{{ .A }} cached")
    b = GoTemplate("{{ .A }} cached")
    assert a.root is b.root


def test_identifiers() -> None:
    t = GoTemplate('{{ $x := .A.B }}{{ range .Messages }}{{ .Role }}{{ end }}{{ json $.Tools }}{{ (.C).D }}')
    # declared variables and chained fields are not identifiers (Ollama's Identifiers walks command args)
    assert t.identifiers() == ["$", "a", "b", "messages", "role", "tools"]
