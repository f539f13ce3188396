"""docs/cli.md documents every command, every flag its ``--help`` shows, and every REPL command."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from cli_support import REPO, make_cli

from ollamalib_cli._commands import repl
from ollamalib_cli.main import build_parser

DOC = (REPO / "docs" / "cli.md").read_text()
COMMANDS = ["serve", "create", "show", "run", "stop", "pull", "push", "list", "ps", "cp", "rm", "prune", "help"]
FLAG = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")


def _help(cli, *args: str) -> str:
    return cli(*args, "--help", check=True).stdout


@pytest.fixture(scope="module")
def helper(tmp_path_factory):
    return make_cli(tmp_path_factory.mktemp("docs"))


def test_the_parser_has_exactly_the_documented_commands():
    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    assert sorted(set(sub.choices)) == sorted(COMMANDS + ["ls", "start"])


@pytest.mark.parametrize("command", COMMANDS)
def test_every_flag_in_help_is_documented(helper, command):
    text = _help(helper, command)
    options = text.split("options:", 1)[1].split("Environment Variables:", 1)[0]
    flags = {f for f in FLAG.findall(options)}
    assert flags, text
    heading = re.search(rf"^### `{command}\b[^\n]*$", DOC, re.M)
    assert heading, f"docs/cli.md has no section for {command}"
    for flag in flags - {"-h", "--help", "--host"}:
        section = DOC[heading.start():].split("\n### ", 1)[0]
        assert f"`{flag}" in section, f"{command}: {flag} is in --help but not documented under its command"
    for flag in ("-h", "--help", "--host"):
        assert f"`{flag}`" in DOC


def test_global_flags_are_documented(helper):
    text = _help(helper)
    for flag in set(FLAG.findall(text.split("options:", 1)[1].split("commands:", 1)[0])):
        assert f"`{flag}`" in DOC, flag


def test_every_repl_command_is_documented():
    usage = repl.USAGE + repl.USAGE_SET + repl.USAGE_SHOW
    commands = set(re.findall(r"^\s+(/\w+(?: \w+)?)", usage, re.M))
    commands |= {"/exit", "/list", "/help"}
    assert len(commands) > 20
    for command in commands:
        command = command.replace("/set parameter", "/set parameter NAME").split(" NAME")[0]
        assert f"`{command}" in DOC, command


def test_serve_environment_is_documented(helper):
    text = _help(helper, "serve")
    for name in re.findall(r"^\s+((?:OLLAMA|OLLAMALIB)_\w+)", text, re.M):
        assert f"`{name}`" in DOC, name


def test_import_stays_light():
    code = ("import sys, ollamalib_cli, ollamalib_cli.main; "
            "heavy = [m for m in ('llama_cpp', 'litestar', 'uvicorn', 'httpx', 'rich', 'ollamalib.engine') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, check=True).stdout
    assert out.strip() == "[]"

