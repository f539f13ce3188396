"""The interactive REPL of ``ollamalib run``, driven through a pseudo-terminal with pexpect."""

from __future__ import annotations

import re
import sys
import time

import pytest
from cli_support import SCRIPT

import pexpect

PROMPT = ">>> "


def spawn(cli, *args: str, env: dict[str, str] | None = None):
    child = pexpect.spawn(sys.executable, ["-m", "ollamalib_cli", "run", *args], env={**cli.env, **(env or {})},
                          cwd=str(cli.root), encoding="utf-8", timeout=60, dimensions=(40, 120))
    child.expect_exact(PROMPT)
    return child


def say(child, line: str, expect: str | None = None) -> str:
    """Send one line and wait for the next prompt; returns what was printed in between (without the echo)."""
    child.sendline(line)
    if expect is not None:
        child.expect_exact(expect)
    child.expect_exact(PROMPT)
    text = (child.before or "").replace("\r\n", "\n")
    return text


def finish(child) -> int:
    child.sendline("/bye")
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


@pytest.mark.parametrize("backend", ["in-process", "server"])
def test_repl_session_set_multiline_save_and_load(request, backend, script_gguf):
    cli = request.getfixturevalue("cli" if backend == "in-process" else "live")
    cli.create("scripted", script_gguf, "MESSAGE user hi\nMESSAGE assistant hello there\n")
    child = pexpect.spawn(sys.executable, ["-m", "ollamalib_cli", "run", "scripted"], env=cli.env,
                          cwd=str(cli.root), encoding="utf-8", timeout=60, dimensions=(40, 120))
    child.expect_exact(">>> hi\r\nhello there\r\n\r\n")  # the model's MESSAGE history comes first
    child.expect_exact(PROMPT)

    assert SCRIPT in say(child, "Say hello")
    assert "Available Commands:" in say(child, "/?")
    assert "/set parameter" in say(child, "/? set")
    assert "Set parameter 'temperature' to '0.25'" in say(child, "/set parameter temperature 0.25")
    assert 'Couldn\'t set parameter: "invalid int value [abc]"' in say(child, "/set parameter num_predict abc")
    assert "Available Parameters:" in say(child, "/set parameter")
    assert "Set system message." in say(child, "/set system You are a pirate.")
    assert "You are a pirate." in say(child, "/show system")
    shown = say(child, "/show parameters")
    assert "User defined parameters:" in shown and re.search(r"temperature\s+0\.25", shown)
    assert "Set format to 'json' mode." in say(child, "/set format json")
    assert "Invalid or missing format." in say(child, "/set format yaml")
    assert "Disabled format." in say(child, "/set noformat")
    assert "Set 'nowordwrap' mode." in say(child, "/set nowordwrap")
    assert "Set 'wordwrap' mode." in say(child, "/set wordwrap")
    assert "  Model\n" in say(child, "/show info")
    assert "No license was specified for this model." in say(child, "/show license")
    assert "Unknown command '/bogus'. Type /? for help" in say(child, "/bogus")
    assert "Unknown command '/set bogus'. Type /? for help" in say(child, "/set bogus")

    # a multi-line message: """ opens it, the continuation prompt is "... ", """ closes it
    child.sendline('"""first line')
    child.expect_exact("... ")
    child.sendline("second line")
    child.expect_exact("... ")
    child.sendline('third line"""')
    child.expect_exact(SCRIPT)
    child.expect_exact(PROMPT)

    verbose = say(child, "/set verbose")
    assert "Set 'verbose' mode." in verbose
    answer = say(child, "again")
    assert SCRIPT in answer and "eval count:" in answer and "eval rate:" in answer
    assert "Set 'quiet' mode." in say(child, "/set quiet")

    assert "Created new model 'saved'" in say(child, "/save saved")
    assert "error: The model name 'bad!name' is invalid" in say(child, "/save bad!name")
    assert "Usage:\n  /save <modelname>" in say(child, "/save two words")
    assert "Couldn't find model 'nope'" in say(child, "/load nope")
    loaded = say(child, "/load saved")
    assert "Loading model 'saved'" in loaded
    assert "You are a pirate." in say(child, "/show system")
    assert "NAME" in say(child, "/list")
    assert "Cleared session context" in say(child, "/clear")
    assert SCRIPT in say(child, "one more")
    assert finish(child) == 0

    saved = cli("show", "saved", "--modelfile", check=True).stdout
    assert "SYSTEM You are a pirate." in saved
    assert re.search(r"^PARAMETER temperature 0\.25$", saved, re.M)
    assert 'MESSAGE user "first line\nsecond line\nthird line"' in saved
    assert f"MESSAGE assistant {SCRIPT}" in saved
    history = (cli.home / "history").read_text()
    assert "/set system You are a pirate." in history


def test_ctrl_c_stops_an_answer_and_ctrl_d_exits(cli, tiny_gguf):
    cli.create("babble", tiny_gguf, "PARAMETER num_predict 100000\nPARAMETER temperature 0\n")
    child = spawn(cli, "babble", "--nowordwrap", env={"OLLAMA_NOHISTORY": "1"})

    child.sendintr()  # Ctrl+C on an empty line
    child.expect_exact("Use Ctrl + d or /bye to exit.")
    child.expect_exact(PROMPT)

    child.sendline("tell me a very long story")
    child.expect(r"\w")  # the answer has started
    time.sleep(0.5)
    child.sendintr()  # Ctrl+C during the answer stops it and returns to the prompt
    started = time.monotonic()
    child.expect_exact(PROMPT, timeout=15)
    assert time.monotonic() - started < 15
    assert "Traceback" not in (child.before or "")
    assert "Set 'quiet' mode." in say(child, "/set quiet")  # the REPL is still usable

    child.sendeof()  # Ctrl+D exits
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert not (cli.home / "history").exists()  # OLLAMA_NOHISTORY


def test_repl_shows_ollamas_grey_placeholders(cli, script_gguf):
    cli.create("scripted", script_gguf, "")
    child = spawn(cli, "scripted")
    grey = "\x1b[38;5;245m{}\x1b[0m"
    child.expect_exact(grey.format("Send a message (/? for help)"))  # on the empty line, after the prompt
    child.send("/")
    child.expect_exact("\x1b[K")  # the first key typed erases it
    child.send("?\r")
    child.expect_exact("Available Commands:")
    child.expect_exact(PROMPT)
    child.expect_exact(grey.format("Send a message (/? for help)"))
    child.sendline('"""')
    child.expect_exact("... ")
    child.expect_exact(grey.format('Use """ to end multi-line input'))
    child.sendline('line one"""')
    child.expect_exact(PROMPT)
    assert finish(child) == 0
