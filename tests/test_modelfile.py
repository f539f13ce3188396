"""Modelfile: every parsing rule and error text of Ollama's parser, serialisation, paths and the show form."""

from __future__ import annotations

import logging
import os
import pwd
from pathlib import Path

import pytest

from ollamalib.errors import ModelfileError
from ollamalib.modelfile import (
    COMMANDS,
    DEFAULT_TEMPLATE,
    Command,
    CreateArgs,
    Modelfile,
    expand_path,
    files_for_model,
    modelfile_for_show,
    quote,
    resolve_path,
    unquote,
)

INVALID_COMMAND = (
    'command must be one of "from", "license", "template", "system", "adapter", "draft", "renderer", '
    '"parser", "parameter", "message", or "requires"'
)
INVALID_ROLE = 'message role must be one of "system", "user", or "assistant"'
LLAMA3_TEMPLATE = (
    "{{ if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>{{ end }}"
    "{{ if .Prompt }}<|start_header_id|>user<|end_header_id|>\n\n{{ .Prompt }}<|eot_id|>{{ end }}"
    "<|start_header_id|>assistant<|end_header_id|>\n\n{{ .Response }}<|eot_id|>"
)


TRAILING = "    "  # Ollama's tests put spaces after a closing triple quote


def cmds(text: str | bytes, **kw) -> list[tuple[str, str, str]]:
    return [(c.name, c.key, c.args) for c in Modelfile.parse(text, validate=False, **kw).commands]


def error_of(text: str | bytes, *, validate: bool = False) -> ModelfileError:
    with pytest.raises(ModelfileError) as exc:
        Modelfile.parse(text, validate=validate)
    return exc.value


# --- instructions ---------------------------------------------------------------------------------------------


def test_every_instruction():
    text = f"""
FROM model1
ADAPTER adapter1
DRAFT ./assistant
LICENSE MIT
PARAMETER param1 value1
PARAMETER param2 value2
TEMPLATE \"\"\"{LLAMA3_TEMPLATE}\"\"\"{TRAILING}
SYSTEM You are a bot.
RENDERER qwen3
PARSER qwen3
MESSAGE user Hey there!
REQUIRES 0.14.0
"""
    assert cmds(text) == [
        ("from", "", "model1"),
        ("adapter", "", "adapter1"),
        ("draft", "", "./assistant"),
        ("license", "", "MIT"),
        ("parameter", "param1", "value1"),
        ("parameter", "param2", "value2"),
        ("template", "", LLAMA3_TEMPLATE),
        ("system", "", "You are a bot."),
        ("renderer", "", "qwen3"),
        ("parser", "", "qwen3"),
        ("message", "user", "Hey there!"),
        ("requires", "", "0.14.0"),
    ]
    assert COMMANDS == (
        "from",
        "license",
        "template",
        "system",
        "adapter",
        "draft",
        "renderer",
        "parser",
        "parameter",
        "message",
        "requires",
    )


def test_keywords_are_case_insensitive():
    assert cmds("from a\nParameter top_k 1\nsYsTeM hi\nmessage user x") == [
        ("from", "", "a"),
        ("parameter", "top_k", "1"),
        ("system", "", "hi"),
        ("message", "user", "x"),
    ]


def test_trim_space():
    text = f"""
FROM "     model 1"
ADAPTER      adapter3
LICENSE "MIT       "
PARAMETER param1        value1
TEMPLATE \"\"\"   {{{{ .Prompt }}}}   \"\"\"{TRAILING}
"""
    assert cmds(text) == [
        ("from", "", "     model 1"),
        ("adapter", "", "adapter3"),
        ("license", "", "MIT       "),
        ("parameter", "param1", "value1"),
        ("template", "", "   {{ .Prompt }}   "),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('FROM "FOO  BAR  "', [("from", "", "FOO  BAR  ")]),
        ('FROM "FOO BAR"\nPARAMETER param1 value1', [("from", "", "FOO BAR"), ("parameter", "param1", "value1")]),
        ("FROM     FOOO BAR    ", [("from", "", "FOOO BAR")]),
        ("FROM /what/is/the path ", [("from", "", "/what/is/the path")]),
        ("FROM llama3:7b-instruct-q4_K_M", [("from", "", "llama3:7b-instruct-q4_K_M")]),
        ("PARAMETER param1 value1\nFROM foo", [("parameter", "param1", "value1"), ("from", "", "foo")]),
        (
            "PARAMETER what the \nFROM lemons make lemonade ",
            [("parameter", "what", "the"), ("from", "", "lemons make lemonade")],
        ),
        ("FROM \n", [("from", "", "")]),
    ],
)
def test_from_values(text, expected):
    assert cmds(text) == expected


@pytest.mark.parametrize("text", ["", "\n\n", "# just a comment\n", "PARAMETER param1 value1", "SYSTEM x\nTEMPLATE y"])
def test_missing_from(text):
    err = error_of(text)
    assert str(err) == "no FROM line" and err.line is None


def test_several_from_lines_are_kept_in_order():
    mf = Modelfile.parse("FROM ./model.gguf\nFROM ./mmproj.gguf\n")
    assert mf.froms == ["./model.gguf", "./mmproj.gguf"] and mf.from_ == "./model.gguf"


# --- comments, whitespace, encodings -----------------------------------------------------------------------


def test_comments_only_at_line_start():
    text = "# comment\n   # indented comment\n\t# tab comment\nFROM foo # not a comment\nSYSTEM a#b\n#FROM bar\n"
    assert cmds(text) == [("from", "", "foo # not a comment"), ("system", "", "a#b")]


def test_comment_marker_inside_quotes_and_after_values():
    assert cmds('FROM foo\nSYSTEM """\n# kept\n"""\nPARAMETER stop #\n') == [
        ("from", "", "foo"),
        ("system", "", "\n# kept\n"),
        ("parameter", "stop", "#"),
    ]


def test_blank_lines_and_indentation():
    assert cmds("\n\n   FROM foo\n\t\tSYSTEM  hi  \n\n") == [("from", "", "foo"), ("system", "", "hi")]


def test_bom_is_tolerated():
    assert cmds("\ufeffFROM foo\n") == [("from", "", "foo")]
    assert cmds(b"\xef\xbb\xbfFROM foo\nSYSTEM \xc3\xa9\n") == [("from", "", "foo"), ("system", "", "é")]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom(encoding):
    data = "FROM bob\nPARAMETER param1 1\nPARAMETER param2 4096\nSYSTEM You are a utf16 file.\n"
    bom = b"\xff\xfe" if encoding.endswith("le") else b"\xfe\xff"
    assert cmds(bom + data.encode(encoding)) == [
        ("from", "", "bob"),
        ("parameter", "param1", "1"),
        ("parameter", "param2", "4096"),
        ("system", "", "You are a utf16 file."),
    ]


def test_multibyte_and_invalid_utf8():
    assert cmds("FROM test\n\tSYSTEM 你好👋") == [("from", "", "test"), ("system", "", "你好👋")]
    assert cmds(b"FROM test\nSYSTEM a\xffb\n") == [("from", "", "test"), ("system", "", "a\ufffdb")]


def test_crlf_line_endings():
    text = 'FROM foo\r\nSYSTEM hi there\r\nTEMPLATE """a\r\nb"""\r\nPARAMETER stop x\r\n'
    assert cmds(text) == [
        ("from", "", "foo"),
        ("system", "", "hi there"),
        ("template", "", "a\r\nb"),
        ("parameter", "stop", "x"),
    ]
    assert cmds("FROM foo\rSYSTEM x\r") == [("from", "", "foo"), ("system", "", "x")]


def test_non_printable_runes_are_dropped():
    text = "FROM fo\x00o\nSYSTEM a\x07b\u200bc\u00a0d\u0085e\x7ff\n"
    assert cmds(text) == [("from", "", "foo"), ("system", "", "abcdef")]


def test_tabs_inside_values_are_kept():
    assert cmds("FROM foo\nSYSTEM a\tb\t\n") == [("from", "", "foo"), ("system", "", "a\tb")]


# --- quoting ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('"""\nThis is a\nmultiline system.\n"""', "\nThis is a\nmultiline system.\n"),
        ('"""\nThis is a\nmultiline system."""', "\nThis is a\nmultiline system."),
        ('"""This is a\nmultiline system."""', "This is a\nmultiline system."),
        ('"""This is a multiline system."""', "This is a multiline system."),
        ('"""\nThis is a multiline system with "quotes".\n"""', '\nThis is a multiline system with "quotes".\n'),
        ('""""""', ""),
        ('""', ""),
        ('"\'"', "'"),
        ('"""\'\'"\'""\'""\'"\'\'\'\'\'""\'""\'"""', "''\"'\"\"'\"\"'\"'''''\"\"'\"\"'"),
        ('"a\nb"', "a\nb"),
        ('"a" "b"', 'a" "b'),
        ("'single quotes stay'", "'single quotes stay'"),
        ('plain "inner" quotes', 'plain "inner" quotes'),
    ],
)
def test_quoted_values(body, expected):
    assert cmds(f"FROM foo\nSYSTEM {body}\n") == [("from", "", "foo"), ("system", "", expected)]


def test_template_triple_quotes_at_eof():
    assert cmds('FROM foo\nTEMPLATE """\n{{ .Prompt }}\n"""') == [
        ("from", "", "foo"),
        ("template", "", "\n{{ .Prompt }}\n"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        'FROM foo\nSYSTEM """This is a multiline system.""\n',
        'FROM foo\nSYSTEM "\n',
        'FROM foo\nSYSTEM """\nnever closed\n',
        'FROM foo\nSYSTEM """x""" trailing\n',
        'FROM foo\nSYSTEM "abc',
    ],
)
def test_unterminated_quote_is_unexpected_eof(text):
    err = error_of(text)
    assert str(err) == "unexpected EOF" and err.line is None


def test_quote_and_unquote_helpers():
    assert quote("plain") == "plain"
    assert quote('has "quotes"') == 'has "quotes"'
    assert quote(" lead") == '" lead"' and quote("trail ") == '"trail "'
    assert quote("a\nb") == '"a\nb"' and quote('a\n"b"') == '"""a\n"b""""'
    assert quote("") == ""
    assert unquote('"""x"""') == ("x", True) and unquote('"x"') == ("x", True) and unquote("x") == ("x", True)
    assert unquote('"""x') == ("", False) and unquote('"x') == ("", False) and unquote('"') == ("", False)
    assert unquote('""""') == ("", False)


# --- PARAMETER ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "name", "value"),
    [
        ("numa true", "numa", "true"),
        ("num_ctx 1", "num_ctx", "1"),
        ("use_mmap true", "use_mmap", "true"),
        ("top_p 1.0", "top_p", "1.0"),
        ("min_p 0.05", "min_p", "0.05"),
        ("penalize_newline true", "penalize_newline", "true"),
        ("stop ### User:", "stop", "### User:"),
        ("stop ### User: ", "stop", "### User:"),
        ('stop "### User:"', "stop", "### User:"),
        ('stop "### User: "', "stop", "### User: "),
        ('stop """### User:"""', "stop", "### User:"),
        ('stop """### User:\n"""', "stop", "### User:\n"),
        ("stop <|endoftext|>", "stop", "<|endoftext|>"),
        ("stop </s>", "stop", "</s>"),
        ("Temperature 1", "Temperature", "1"),
    ],
)
def test_parameter_lines(line, name, value):
    assert cmds(f"FROM foo\nPARAMETER {line}\n") == [("from", "", "foo"), ("parameter", name, value)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("FROM foo\nPARAMETER param1\n", "unexpected EOF: param1"),
        ("FROM foo\nPARAMETER param1", "unexpected EOF"),
        ("FROM foo\nPARAMETER temp-x 1\n", "unexpected EOF: temp"),
        ("FROM foo\nPARAMETER temp.x 1\n", "unexpected EOF: temp"),
        ("FROM foo\nPARAMETER \n", "unexpected EOF: "),
    ],
)
def test_parameter_name_errors(text, message):
    err = error_of(text)
    assert str(err) == message and err.line is None


def test_parameters_are_typed_and_stop_accumulates():
    mf = Modelfile.parse(
        "FROM foo\nPARAMETER temperature 0.5\nPARAMETER top_k 1\nPARAMETER stop <|im_end|>\n"
        'PARAMETER stop "User: "\nPARAMETER temperature 0.7\nPARAMETER use_mmap false\n'
    )
    assert mf.parameters == {"temperature": 0.7, "top_k": 1, "stop": ["<|im_end|>", "User: "], "use_mmap": False}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("temperature hot", "invalid float value [hot]"),
        ("num_ctx 4k", "invalid int value [4k]"),
        ("num_ctx 4096 # context", "invalid int value [4096 # context]"),
        ("use_mmap yes", "invalid bool value [yes]"),
        ("Temperature 0.5", "unknown parameter 'Temperature'"),
        ("numa true", "unknown parameter 'numa'"),
        ("tfs_z 1", "unknown parameter 'tfs_z'"),
    ],
)
def test_parameter_value_errors(line, message):
    err = error_of(f"FROM foo\nPARAMETER {line}\n", validate=True)
    assert str(err) == message and err.line is None
    mf = Modelfile.parse(f"FROM foo\nPARAMETER {line}\n", validate=False)
    with pytest.raises(ModelfileError, match="^" + message.replace("[", r"\[").replace("]", r"\]") + "$"):
        _ = mf.parameters


def test_deprecated_parameters_are_ignored_with_warning(caplog):
    mf = Modelfile.parse("FROM foo\nPARAMETER mirostat 2\nPARAMETER use_mlock true\nPARAMETER top_k 3\n")
    with caplog.at_level(logging.WARNING):
        assert mf.parameters == {"top_k": 3}
    assert "parameter mirostat is deprecated" in caplog.text and "parameter use_mlock is deprecated" in caplog.text


# --- MESSAGE -------------------------------------------------------------------------------------------------


def test_messages():
    text = """
FROM foo
MESSAGE system You are a file parser. Always parse things.
MESSAGE user Hey there!
MESSAGE assistant Hello, I want to parse all the things!
MESSAGE system \"\"\"
You are a multiline file parser. Always parse things.
\"\"\"
"""
    assert Modelfile.parse(text).messages == [
        ("system", "You are a file parser. Always parse things."),
        ("user", "Hey there!"),
        ("assistant", "Hello, I want to parse all the things!"),
        ("system", "\nYou are a multiline file parser. Always parse things.\n"),
    ]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("\nFROM foo\nMESSAGE badguy I'm a bad guy!\n", 3),
        ("FROM foo\nMESSAGE User hello\n", 2),
        ("FROM foo\nMESSAGE SYSTEM hello\n", 2),
        ("FROM foo\nMESSAGE tool result\n", 2),
        ("FROM foo\nMESSAGE  user hello\n", 2),
    ],
)
def test_message_role_errors(text, line):
    err = error_of(text)
    assert str(err) == f"(line {line}): {INVALID_ROLE}" and err.line == line


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("\nFROM foo\nMESSAGE system\n", "unexpected EOF: system"),
        ("\nFROM foo\nMESSAGE system", "unexpected EOF"),
        ("FROM foo\nMESSAGE user1 hi\n", "unexpected EOF: user"),
    ],
)
def test_message_eof_errors(text, message):
    assert str(error_of(text)) == message


# --- unknown instructions and line numbers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("\nFROM foo\nBADCOMMAND param1 value1\n", 3),
        ("FROM foo\nPROMPT hi\n", 2),
        ("FROM foo\nFROM: bar\n", 2),
        ("FROM foo\nSYS-TEM x\n", 2),
        ("FROM\nfoo\n", 2),
        ("FROM foo\n\n\n  ADAPTERS x\n", 4),
        ('FROM foo\nSYSTEM """\na\nb\n"""\nBAD x\n', 6),
        ("FROM foo\r\nBAD x\r\n", 3),
    ],
)
def test_invalid_command_reports_ollama_line(text, line):
    err = error_of(text)
    assert str(err) == f"(line {line}): {INVALID_COMMAND}" and err.line == line
    assert err.status_code == 400 and isinstance(err, ValueError)


@pytest.mark.parametrize("text", ["FROM foo\nSYSTEM", "FROM foo\nLICENSE", "FROM"])
def test_keyword_without_value_at_eof(text):
    assert str(error_of(text)) == "unexpected EOF"


# --- REQUIRES ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "normalized"),
    [
        ("0.14.0", "0.14.0"),
        ("v0.14.0", "0.14.0"),
        ("1", "1"),
        ("1.2", "1.2"),
        ("1.2.3-rc.1", "1.2.3-rc.1"),
        ("1.2.3-0a.-", "1.2.3-0a.-"),
        ("1.2.3+build.007", "1.2.3+build.007"),
        ("1.2.3-beta+exp.sha.5114f85", "1.2.3-beta+exp.sha.5114f85"),
    ],
)
def test_requires_valid(value, normalized):
    assert Modelfile.parse(f"FROM foo\nREQUIRES {value}\n").requires == normalized


@pytest.mark.parametrize(
    "value",
    ["latest", "1.2.3.4", "01.2.3", "1.02", "1.2-rc1", "1.2.3-01", "1.2.3-", "1.2.3+", "vv1", "1.2.3-a..b", ">=0.14"],
)
def test_requires_invalid(value):
    err = error_of(f"FROM foo\nREQUIRES {value}\n", validate=True)
    assert str(err) == "requires must be a valid semver (e.g. 0.14.0)"
    with pytest.raises(ModelfileError):
        _ = Modelfile.parse(f"FROM foo\nREQUIRES {value}\n", validate=False).requires


def test_validation_runs_after_syntax_in_command_order():
    assert str(error_of("FROM foo\nREQUIRES bad\nPARAMETER top_k x\n", validate=True)).startswith("requires")
    assert str(error_of("FROM foo\nPARAMETER top_k x\nREQUIRES bad\n", validate=True)) == "invalid int value [x]"
    assert str(error_of("PARAMETER top_k x\n", validate=True)) == "no FROM line"


# --- accessors and serialisation ----------------------------------------------------------------------------


def test_accessors():
    mf = Modelfile.parse(
        "FROM base\nADAPTER a1\nADAPTER a2\nDRAFT d\nTEMPLATE t1\nTEMPLATE t2\nSYSTEM s\n"
        "LICENSE l1\nLICENSE l2\nRENDERER r\nPARSER p\nREQUIRES v1.0.0\n"
    )
    assert mf.from_ == "base" and mf.adapters == ["a1", "a2"] and mf.drafts == ["d"]
    assert mf.template == "t2" and mf.system == "s" and mf.license == ["l1", "l2"]
    assert mf.renderer == "r" and mf.parser == "p" and mf.requires == "1.0.0"
    empty = Modelfile.parse("FROM base")
    assert empty.template is None and empty.system is None and empty.requires is None
    assert empty.license == [] and empty.messages == [] and empty.parameters == {} and empty.adapters == []


def test_command_str():
    assert str(Command("from", " spaced ")) == "FROM  spaced "
    assert str(Command("parameter", "<|im_end|>", "stop")) == "PARAMETER stop <|im_end|>"
    assert str(Command("parameter", "User: ", "stop")) == 'PARAMETER stop "User: "'
    assert str(Command("message", "multi\nline", "user")) == 'MESSAGE user "multi\nline"'
    assert str(Command("template", 'say "hi"\n')) == 'TEMPLATE """say "hi"\n"""'
    assert str(Command("requires", "0.14.0")) == "REQUIRES 0.14.0"


ROUND_TRIPS = [
    """
FROM foo
ADAPTER adapter1
LICENSE MIT
PARAMETER param1 value1
PARAMETER param2 value2
TEMPLATE template1
MESSAGE system You are a file parser. Always parse things.
MESSAGE user Hey there!
MESSAGE assistant Hello, I want to parse all the things!
""",
    """
FROM foo
ADAPTER adapter1
LICENSE \"\"\"
Very long and boring legal text.
Blah blah blah.
"Oh look, a quote!"
\"\"\"

PARAMETER param1 value1
TEMPLATE template1
MESSAGE system \"\"\"
You are a store greeter. Always respond with "Hello!".
\"\"\"
MESSAGE user Hey there!
""",
    'FROM foo\nSYSTEM ""\n',
    'FROM foo\nDRAFT ./d\nRENDERER r\nPARSER p\nREQUIRES 0.14.0\nPARAMETER stop "  "\nSYSTEM " lead and trail "\n',
    f'FROM ./model.gguf\nTEMPLATE """{LLAMA3_TEMPLATE}"""\nPARAMETER stop <|eot_id|>\nPARAMETER stop "\\n\\n"\n',
]


@pytest.mark.parametrize("text", ROUND_TRIPS)
def test_round_trip(text):
    mf = Modelfile.parse(text, validate=False)
    again = Modelfile.parse(str(mf), validate=False)
    assert again == mf
    assert str(again) == str(mf)


def test_str_form():
    mf = Modelfile.parse('# c\nfrom foo\nsystem """\nhi\n"""\nparameter temperature 0.7\nmessage user  hi  \n')
    assert str(mf) == 'FROM foo\nSYSTEM "\nhi\n"\nPARAMETER temperature 0.7\nMESSAGE user hi\n'


def test_from_file_reads_bytes_and_remembers_its_folder(tmp_path):
    path = tmp_path / "Modelfile"
    path.write_bytes(b"\xef\xbb\xbfFROM ./model.gguf\r\nPARAMETER temperature 0.2\r\n")
    mf = Modelfile.from_file(path)
    assert mf.from_ == "./model.gguf" and mf.parameters == {"temperature": 0.2} and mf.path == path
    assert mf == Modelfile.parse("FROM ./model.gguf\nPARAMETER temperature 0.2\n")


def test_large_value_parses_fast():
    body = ("word " * 20000 + "\n") * 5
    mf = Modelfile.parse(f'FROM foo\nLICENSE """{body}"""\n')
    assert mf.license == [body]


# --- paths -------------------------------------------------------------------------------------------------


def test_expand_path(tmp_path, monkeypatch):
    home = pwd.getpwuid(os.getuid()).pw_dir
    assert expand_path("/abs/../abs/model.gguf", tmp_path) == Path("/abs/model.gguf")
    assert expand_path("model.gguf", tmp_path) == tmp_path / "model.gguf"
    assert expand_path("./sub/../model.gguf", tmp_path) == tmp_path / "model.gguf"
    assert expand_path("~", tmp_path) == Path(home)
    assert expand_path("~/models/m.gguf", tmp_path) == Path(home) / "models" / "m.gguf"
    me = pwd.getpwuid(os.getuid()).pw_name
    assert expand_path(f"~{me}/m.gguf", tmp_path) == Path(home) / "m.gguf"
    assert expand_path(f"~{me}", tmp_path) == Path(home)
    monkeypatch.chdir(tmp_path)
    assert expand_path("m.gguf", "") == tmp_path / "m.gguf"


def test_expand_path_unknown_user(tmp_path):
    with pytest.raises(ModelfileError) as exc:
        expand_path("~no_such_user_xyz/m.gguf", tmp_path)
    assert str(exc.value) == "failed to find user 'no_such_user_xyz': user: unknown user no_such_user_xyz"


def test_resolve_path(tmp_path):
    (tmp_path / "model.gguf").write_bytes(b"GGUF")
    (tmp_path / "dir").mkdir()
    assert resolve_path("model.gguf", tmp_path) == tmp_path / "model.gguf"
    assert resolve_path(str(tmp_path / "model.gguf"), "/elsewhere") == tmp_path / "model.gguf"
    assert resolve_path("dir", tmp_path) == tmp_path / "dir"
    assert resolve_path("llama3.2:1b", tmp_path) is None
    assert resolve_path("sha256:" + "a" * 64, tmp_path) is None
    (tmp_path / "broken").symlink_to(tmp_path / "missing")
    assert resolve_path("broken", tmp_path) is None


def _binary(size: int = 600) -> bytes:
    return bytes(i % 256 for i in range(size))


def test_files_for_model_gguf_folder(tmp_path):
    (tmp_path / "model.gguf").write_bytes(b"GGUF" + _binary())
    (tmp_path / "config.json").write_text('{"config": true}')
    (tmp_path / "README.md").write_text("hi")
    assert files_for_model(tmp_path) == [tmp_path / "model.gguf", tmp_path / "config.json"]


def test_files_for_model_safetensors_folder(tmp_path):
    for name in ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "consolidated.safetensors"):
        (tmp_path / name).write_bytes(_binary())
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "tokenizer.json").write_text("{}")
    (tmp_path / "chat_template.jinja").write_text("{{ messages }}")
    (tmp_path / "tokenizer.model").write_bytes(_binary())
    (tmp_path / "2_Dense").mkdir()
    (tmp_path / "2_Dense" / "config.json").write_text("{}")
    (tmp_path / "2_Dense" / "model.safetensors").write_bytes(_binary())
    got = [p.relative_to(tmp_path).as_posix() for p in files_for_model(tmp_path)]
    assert got == [
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
        "2_Dense/model.safetensors",
        "config.json",
        "tokenizer.json",
        "2_Dense/config.json",
        "chat_template.jinja",
        "tokenizer.model",
    ]


def test_files_for_model_pytorch_needs_zip(tmp_path):
    (tmp_path / "pytorch_model.bin").write_bytes(b"PK\x03\x04" + _binary())
    assert files_for_model(tmp_path) == [tmp_path / "pytorch_model.bin"]
    (tmp_path / "pytorch_model.bin").write_text("plain text, an unresolved git lfs pointer")
    with pytest.raises(ModelfileError) as exc:
        files_for_model(tmp_path)
    assert str(exc.value) == "no Modelfile or safetensors files found"


def test_files_for_model_errors(tmp_path):
    (tmp_path / "README.md").write_text("x")
    with pytest.raises(ModelfileError, match=r"^no Modelfile or safetensors files found$"):
        files_for_model(tmp_path)
    (tmp_path / "model.gguf").write_bytes(_binary())
    (tmp_path / "config.json").write_bytes(_binary())
    with pytest.raises(
        ModelfileError, match=r"^invalid content type: expected text/plain but got application/octet-stream for "
    ):
        files_for_model(tmp_path)


def test_files_for_model_rejects_files_outside_the_folder(tmp_path):
    outside = tmp_path / ".cache" / "blobs"
    outside.mkdir(parents=True)
    (outside / "abc").write_bytes(_binary())
    model_dir = tmp_path / "snapshot"
    model_dir.mkdir()
    (model_dir / "model.gguf").symlink_to(outside / "abc")
    with pytest.raises(ModelfileError) as exc:
        files_for_model(model_dir)
    assert str(exc.value) == (
        "insecure path: ../.cache/blobs/abc\n\nUse --local-dir <dir> when downloading model to disable caching"
    )


# --- create arguments ------------------------------------------------------------------------------------------


def test_create_args(tmp_path):
    (tmp_path / "model.gguf").write_bytes(_binary())
    (tmp_path / "proj.gguf").write_bytes(_binary())
    (tmp_path / "lora.gguf").write_bytes(_binary())
    path = tmp_path / "Modelfile"
    path.write_text(
        "FROM ./model.gguf\nFROM proj.gguf\nADAPTER ./lora.gguf\nTEMPLATE {{ .Prompt }}\nSYSTEM s\n"
        "LICENSE one\nLICENSE two\nPARAMETER temperature 0.5\nPARAMETER top_k 1\nPARAMETER stop a\nPARAMETER stop b\n"
        "MESSAGE user Hello there!\nMESSAGE assistant Hi!\nRENDERER r\nPARSER p\nREQUIRES v0.14.0\n"
    )
    args = Modelfile.from_file(path).create_args()
    assert args == CreateArgs(
        from_=None,
        files=[tmp_path / "model.gguf", tmp_path / "proj.gguf"],
        adapters=[tmp_path / "lora.gguf"],
        template="{{ .Prompt }}",
        system="s",
        license=["one", "two"],
        parameters={"temperature": 0.5, "top_k": 1, "stop": ["a", "b"]},
        messages=[("user", "Hello there!"), ("assistant", "Hi!")],
        renderer="r",
        parser="p",
        requires="0.14.0",
    )


def test_create_args_model_name_and_folder(tmp_path):
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "m.gguf").write_bytes(_binary())
    args = Modelfile.parse("FROM llama3.2\nFROM weights\n").create_args(tmp_path)
    assert args.from_ == "llama3.2" and args.files == [tmp_path / "weights" / "m.gguf"]


def test_create_args_missing_adapter_and_draft(tmp_path):
    for keyword in ("ADAPTER", "DRAFT"):
        mf = Modelfile.parse(f"FROM base\n{keyword} ./missing.gguf\n")
        with pytest.raises(ModelfileError) as exc:
            mf.create_args(tmp_path)
        assert str(exc.value) == f"stat {tmp_path / 'missing.gguf'}: no such file or directory"


def test_create_args_draft_must_differ_from_from(tmp_path):
    (tmp_path / "model.gguf").write_bytes(_binary())
    (tmp_path / "draft.gguf").write_bytes(_binary())
    ok = Modelfile.parse("FROM ./model.gguf\nDRAFT ./draft.gguf\n").create_args(tmp_path)
    assert ok.files == [tmp_path / "model.gguf"] and ok.draft_files == [tmp_path / "draft.gguf"]
    for text in ("FROM ./model.gguf\nDRAFT ./model.gguf\n", "DRAFT ./model.gguf\nFROM model.gguf\n"):
        with pytest.raises(ModelfileError, match=r"^DRAFT must not reference the same local path as FROM: "):
            Modelfile.parse(text).create_args(tmp_path)


def test_create_args_draft_may_name_a_model(tmp_path):
    args = Modelfile.parse("FROM base\nDRAFT library/tiny-draft:3l\n").create_args(tmp_path)
    assert args.draft_from == "library/tiny-draft:3l" and args.draft_files == []
    (tmp_path / "tiny-draft").mkdir()  # an existing path wins over a name, as for FROM
    (tmp_path / "tiny-draft" / "d.gguf").write_bytes(_binary())
    args = Modelfile.parse("FROM base\nDRAFT tiny-draft\n").create_args(tmp_path)
    assert args.draft_from is None and args.draft_files == [tmp_path / "tiny-draft" / "d.gguf"]
    for value in ("small.gguf", "./small", "~/small", "/abs/small"):  # paths that do not exist stay stat errors
        with pytest.raises(ModelfileError, match=r"^stat .*: no such file or directory$"):
            Modelfile.parse(f"FROM base\nDRAFT {value}\n").create_args(tmp_path)


# --- the show form --------------------------------------------------------------------------------------------


def test_modelfile_for_show_exact_text():
    text = modelfile_for_show(
        name="gemma4:e4b",
        from_path="/m/blobs/sha256-370c",
        adapters=["/m/blobs/sha256-ada"],
        draft="/m/blobs/sha256-0561",
        projectors=["/m/blobs/sha256-4cb2"],
        template="{{ .Prompt }}",
        system="You are helpful.",
        renderer="gemma4",
        parser="gemma4",
        parameters={
            "draft_num_predict": 3,
            "temperature": 1.0,
            "top_k": 64,
            "top_p": 0.95,
            "stop": ["<end_of_turn>", "\n\n"],
        },
        license=['Apache License\n"Version" 2.0'],
        messages=[("user", "Hi"), {"role": "assistant", "content": " Hello "}],
    )
    assert text == (
        '# Modelfile generated by "ollama show"\n'
        "# To build a new Modelfile based on this, replace FROM with:\n"
        "# FROM gemma4:e4b\n"
        "\n"
        "FROM /m/blobs/sha256-370c\n"
        "ADAPTER /m/blobs/sha256-ada\n"
        "DRAFT /m/blobs/sha256-0561\n"
        "FROM /m/blobs/sha256-4cb2\n"
        "TEMPLATE {{ .Prompt }}\n"
        "SYSTEM You are helpful.\n"
        "RENDERER gemma4\n"
        "PARSER gemma4\n"
        "PARAMETER draft_num_predict 3\n"
        "PARAMETER temperature 1\n"
        "PARAMETER top_k 64\n"
        "PARAMETER top_p 0.95\n"
        "PARAMETER stop <end_of_turn>\n"
        'PARAMETER stop "\n\n"\n'
        'LICENSE """Apache License\n"Version" 2.0"""\n'
        "MESSAGE user Hi\n"
        'MESSAGE assistant " Hello "\n'
    )


def test_modelfile_for_show_defaults_and_parse_back():
    text = modelfile_for_show(
        "tiny:latest", "/b/sha256-1", template=None, parameters={"num_ctx": 1000000, "use_mmap": True}
    )
    assert text.endswith(
        f"FROM /b/sha256-1\nTEMPLATE {DEFAULT_TEMPLATE}\nPARAMETER num_ctx 1e+06\nPARAMETER use_mmap true\n"
    )
    mf = Modelfile.parse(text, validate=False)
    assert mf.from_ == "/b/sha256-1" and mf.template == DEFAULT_TEMPLATE
    with pytest.raises(ModelfileError, match=r"^invalid int value \[1e\+06\]$"):
        _ = mf.parameters  # Ollama's own show output has this flaw for numbers >= 1e6


def test_modelfile_for_show_multiline_template_and_empty_system():
    text = modelfile_for_show("m:latest", "/b", template="{{ .System }}\n{{ .Prompt }}", system="", license="MIT")
    body = text.split("\n\n", 1)[1]
    assert body == 'FROM /b\nTEMPLATE "{{ .System }}\n{{ .Prompt }}"\nLICENSE MIT\n'
    assert Modelfile.parse(body).template == "{{ .System }}\n{{ .Prompt }}"
