"""Every command as a subprocess: in-process (no server) and against a live server, outputs and exit codes."""

from __future__ import annotations

import json
import re

import pytest
from cli_support import SCRIPT, free_port, make_cli, start_server

ID = r"[0-9a-f]{12}"
CONNECT = "Error: could not connect to ollama server, run 'ollamalib serve' to start it\n"
MODELFILE_EXTRA = (
    "SYSTEM You are tiny.\n"
    "PARAMETER temperature 0.5\n"
    "PARAMETER stop <|im_end|>\n"
    'LICENSE """MIT License\nsecond line\nthird line"""\n'
    "MESSAGE user hi\n"
    "MESSAGE assistant hello there\n"
    "REQUIRES 0.14.0\n"
)


# -- no backend needed ----------------------------------------------------------------------------------------


def test_help_lists_every_command(cli):
    out = cli("--help", check=True).stdout
    for command in ("serve", "create", "show", "run", "stop", "pull", "push", "list", "ps", "cp", "rm", "help"):
        assert re.search(rf"^\s+{command}\b", out, re.M), command
    assert cli().stdout == out  # bare `ollamalib` prints the help too
    assert cli("help", "show", check=True).stdout == cli("show", "--help", check=True).stdout


def test_version_without_a_server(cli):
    proc = cli("-v", check=True)
    assert re.fullmatch(r"ollamalib version is \S+\n", proc.stdout)


def test_usage_errors_exit_2_without_traceback(cli):
    for args, text in [(("show",), "the following arguments are required: MODEL"),
                       (("frobnicate",), 'unknown command "frobnicate" for "ollamalib"'),
                       (("list", "--bogus"), "unknown flag: --bogus"),
                       (("run", "m", "--think=loud"), 'invalid value for --think: "loud"')]:
        proc = cli(*args)
        assert proc.returncode == 2, args
        assert proc.stderr.startswith(f"Error: {text}"), proc.stderr
        assert "Traceback" not in proc.stderr


def test_serve_help_lists_environment_with_defaults(cli):
    out = cli("serve", "--help", check=True).stdout
    assert "Environment Variables:" in out
    assert re.search(r"OLLAMA_HOST\s+.*\(default: http://127\.0\.0\.1:11434\)", out)
    assert re.search(r"OLLAMA_KEEP_ALIVE\s+.*\(default: 5m0s\)", out)
    assert re.search(r"OLLAMA_MODELS\s+.*\(default: \S+models\)", out)
    for name in ("OLLAMA_NUM_PARALLEL", "OLLAMA_MAX_QUEUE", "OLLAMA_ORIGINS", "OLLAMA_CONTEXT_LENGTH"):
        assert name in out
    assert cli("start", "--help", check=True).stdout.replace("start", "serve") == out.replace("start", "serve")


def test_explicit_host_that_refuses_is_a_connect_error(cli):
    dead = f"127.0.0.1:{free_port()}"
    proc = cli.with_host(dead)("list")
    assert (proc.returncode, proc.stderr) == (1, CONNECT)
    proc = cli("--host", dead, "ps")
    assert (proc.returncode, proc.stderr) == (1, CONNECT)
    proc = cli("show", "x", "--host", f"http://{dead}")
    assert (proc.returncode, proc.stderr) == (1, CONNECT)


# -- in-process -----------------------------------------------------------------------------------------------


def test_create_list_show_cp_rm_in_process(cli, tiny_gguf):
    proc = cli.create("tiny", tiny_gguf, MODELFILE_EXTRA)
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert lines[0] == "gathering model components"
    assert re.fullmatch(r"copying file sha256:[0-9a-f]{64} 100%", lines[2])
    assert "parsing GGUF" in lines
    assert lines[-2:] == ["writing manifest", "success"]

    out = cli("list", check=True).stdout.splitlines()
    assert re.fullmatch(r"NAME\s{4,}ID\s{4,}SIZE\s{4,}MODIFIED", out[0])
    assert re.fullmatch(rf"tiny:latest\s{{4,}}{ID}\s{{4,}}\d+(\.\d)? [KMG]?B\s{{4,}}(Less than a second|1 second|\d+ seconds) ago",
                        out[1])
    assert out[0].index("ID") == out[1].index(out[1].split()[1])  # columns line up
    assert [line.split()[:4] for line in cli("ls", "TI", check=True).stdout.splitlines()[1:]] == [out[1].split()[:4]]
    assert cli("ls", "zzz", check=True).stdout == "NAME    ID    SIZE    MODIFIED\n"

    show = cli("show", "tiny", check=True).stdout
    assert show.startswith("  Model\n    architecture        llama\n")
    assert re.search(r"^    context length      2048$", show, re.M)
    assert re.search(r"^    embedding length    64$", show, re.M)
    assert re.search(r"^    requires            0\.14\.0$", show, re.M)  # REQUIRES reaches the model
    assert "  Capabilities\n    completion\n" in show
    assert re.search(r'^    temperature    0\.5$', show, re.M)
    assert "  System\n    You are tiny.\n" in show
    assert "  License\n    MIT License\n    second line\n    ...\n" in show
    assert "Metadata" not in show
    verbose = cli("show", "tiny", "-v", check=True).stdout
    assert "  Metadata\n" in verbose and "general.architecture" in verbose and "  Tensors\n" in verbose

    assert cli("show", "tiny", "--system", check=True).stdout == "You are tiny."
    assert cli("show", "tiny", "--license", check=True).stdout == "MIT License\nsecond line\nthird line\n"
    assert re.search(r'^temperature\s+0\.5$', cli("show", "tiny", "--parameters", check=True).stdout, re.M)
    modelfile = cli("show", "tiny", "--modelfile", check=True).stdout
    assert "FROM " in modelfile and "MESSAGE user hi" in modelfile
    both = cli("show", "tiny", "--system", "--license")
    assert both.returncode == 2
    assert both.stderr == ("Error: only one of '--license', '--modelfile', '--parameters', '--system', or "
                           "'--template' can be specified\n")

    assert cli("cp", "tiny", "tiny2", check=True).stdout == "copied 'tiny' to 'tiny2'\n"
    names = [line.split()[0] for line in cli("list", check=True).stdout.splitlines()[1:]]
    assert sorted(names) == ["tiny2:latest", "tiny:latest"]
    assert cli("rm", "tiny2", check=True).stdout == "deleted 'tiny2'\n"
    assert [line.split()[0] for line in cli("list", check=True).stdout.splitlines()[1:]] == ["tiny:latest"]


def test_not_found_and_invalid_names_are_one_line_errors(cli):
    for args, message in [
        (("show", "nope"), "model 'nope:latest' not found"),
        (("rm", "nope"), "model 'nope' not found"),
        (("cp", "nope", "other"), 'model "nope" not found'),
        (("stop", "nope"), 'couldn\'t find model "nope" to stop'),
        (("cp", "nope", "bad name!"), 'destination "bad name!" is invalid'),
    ]:
        proc = cli(*args)
        assert (proc.returncode, proc.stderr) == (1, f"Error: {message}\n"), args
        assert proc.stdout == ""


def test_create_errors(cli, tiny_gguf):
    proc = cli("create", "x", "-f", "missing.Modelfile")
    assert (proc.returncode, proc.stderr) == (1, "Error: specified Modelfile wasn't found\n")
    (cli.root / "Modelfile").write_text(f"FROM {tiny_gguf}\nPARAMETER temperature hot\n")
    proc = cli("create", "x")
    assert proc.returncode == 1
    assert proc.stderr.endswith("Error: invalid float value [hot]\n")
    (cli.root / "Modelfile").unlink()
    proc = cli("create", "x")  # no Modelfile: FROM . and the working directory has no model files
    assert proc.returncode == 1
    assert proc.stderr.endswith("Error: no Modelfile or safetensors files found\n")


def test_create_quantize(cli, tiny_gguf_f16):
    cli.create("big", tiny_gguf_f16)
    proc = cli("create", "small", "-f", str(cli.root / "Modelfile.big"), "-q", "q8_0", check=True)
    assert "quantizing F16 model to Q8_0" in proc.stderr
    assert "    quantization        Q8_0\n" in cli("show", "small", check=True).stdout


def test_run_one_shot_streams_the_answer(cli, script_gguf):
    cli.create("scripted", script_gguf)
    piped = cli("run", "scripted", input="Say hello\n", check=True)
    assert piped.stdout == f"{SCRIPT}\n\n"
    verbose = cli("run", "scripted", "Say", "--verbose", "hello", "--keepalive", "0", check=True)
    assert verbose.stdout == f"{SCRIPT}\n\n"
    for label in ("total duration:", "load duration:", "prompt eval count:", "prompt eval rate:", "eval count:",
                  "eval duration:", "eval rate:"):
        assert re.search(rf"^{label}\s+\S", verbose.stderr, re.M), label


def test_run_warns_when_the_prompt_was_cut(cli, script_gguf):
    cli.create("short", script_gguf, "PARAMETER num_ctx 64\nPARAMETER num_predict 4\n")
    fits = cli("run", "short", "hi", check=True)
    assert "warning" not in fits.stderr
    long = cli("run", "short", " ".join(["word"] * 200), check=True)
    assert re.search(r"^warning: the prompt \(\d+ tokens\) did not fit the context \(64 tokens\): the \d+ oldest "
                     r"token\(s\) were left out; set a larger num_ctx to keep them$", long.stderr, re.M), long.stderr
    assert long.stdout.strip()  # the answer is still printed


THINKING_TEMPLATE = (
    'TEMPLATE """{{- range .Messages }}<|im_start|>{{ .Role }}\n'
    '{{ if and .Thinking (eq .Role "assistant") }}<think>{{ .Thinking }}</think>{{ end }}{{ .Content }}<|im_end|>\n'
    '{{ end }}<|im_start|>assistant\n"""\n'
)


def test_run_frames_thinking(cli, tmp_path):
    from gguf_factory import CHATML_TEMPLATE, write_tiny_gguf

    gguf = write_tiny_gguf(tmp_path / "think.gguf", chat_template=CHATML_TEMPLATE,
                           script="<think>hmm let me see</think>The answer.")
    cli.create("thinker", gguf, THINKING_TEMPLATE)
    assert "    thinking\n" in cli("show", "thinker", check=True).stdout
    shown = cli("run", "thinker", "why?", check=True).stdout
    assert shown == "Thinking...\nhmm let me see\n...done thinking.\n\nThe answer.\n\n"
    assert cli("run", "thinker", "why?", "--hidethinking", check=True).stdout == "The answer.\n\n"
    assert cli("run", "thinker", "--think=high", "why?", check=True).stdout == shown
    assert cli("run", "thinker", "--think=false", "why?", check=True).stdout == (
        "<think>hmm let me see</think>The answer.\n\n")


def test_run_errors(cli, script_gguf):
    cli.create("scripted", script_gguf)
    proc = cli("run", "scripted", "hi", "--think")
    assert (proc.returncode, proc.stderr) == (1, 'Error: "scripted" does not support thinking\n')
    proc = cli("run", "scripted", "hi", "--keepalive", "soon")
    assert (proc.returncode, proc.stderr) == (1, 'Error: time: invalid duration "soon"\n')
    proc = cli("run", "scripted", "hi", "--format", "yaml")
    assert proc.returncode == 1
    assert proc.stderr == 'Error: invalid format: "yaml"; expected "json" or a valid JSON Schema object\n'


def test_run_embedding_model_prints_the_vector(cli, tiny_embed_gguf):
    cli.create("emb", tiny_embed_gguf)
    vector = json.loads(cli("run", "emb", "hello world", check=True).stdout)
    assert len(vector) == 64 and all(isinstance(v, float) for v in vector)
    assert abs(sum(v * v for v in vector) - 1.0) < 1e-3
    assert len(json.loads(cli("run", "emb", "hello", "--dimensions", "8", check=True).stdout)) == 8
    proc = cli("run", "emb")
    assert proc.returncode == 1
    assert proc.stderr == 'Error: embedding models require input text. Usage: ollamalib run emb "your text here"\n'


def test_ps_and_stop_in_process(cli, tiny_gguf):
    cli.create("tiny", tiny_gguf)
    assert cli("ps", check=True).stdout == "NAME    ID    SIZE    PROCESSOR    CONTEXT    UNTIL\n"
    assert cli("stop", "tiny", check=True).stdout == ""  # exists but is not loaded: nothing to do


# -- registry: pull, push, and run pulling a missing model -------------------------------------------------


@pytest.fixture(scope="module")
def registry_host(tmp_path_factory):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "registry"))
    from regtest_servers import DOCKER_REGISTRY, start_docker_registry

    if not Path(DOCKER_REGISTRY).exists():
        pytest.fail(f"{DOCKER_REGISTRY} not installed (Debian package docker-registry; `make test` installs it)")
    reg = start_docker_registry(tmp_path_factory.mktemp("cli-registry"))
    yield reg.host
    reg.stop()


def test_push_pull_and_run_pulls_a_missing_model(cli, tmp_path, script_gguf, registry_host):
    name = f"{registry_host}/cli/scripted:v1"
    cli.create(name, script_gguf)
    pushed = cli("push", name, "--insecure", check=True)
    assert pushed.stdout == f"\nYou can find your model at:\n\n\t{name}\n"
    assert "retrieving manifest" in pushed.stderr and "pushing manifest" in pushed.stderr
    assert re.search(rf"^pushing {ID}: 100% ", pushed.stderr, re.M)

    other = make_cli(tmp_path / "other")
    pulled = other("pull", name, "--insecure", check=True)
    assert pulled.stderr.splitlines()[0] == "pulling manifest"
    assert re.search(rf"^pulling {ID}: 100% ", pulled.stderr, re.M)
    assert pulled.stderr.splitlines()[-1] == "success"
    assert other("list", check=True).stdout.splitlines()[1].startswith(name + " ")

    third = make_cli(tmp_path / "third")
    ran = third("run", name, "--insecure", "hi", check=True)
    assert ran.stdout == f"{SCRIPT}\n\n"
    assert "pulling manifest" in ran.stderr
    missing = third("pull", f"{registry_host}/cli/nothing:v1", "--insecure")
    assert missing.returncode == 1
    assert missing.stderr.startswith("pulling manifest\n") and missing.stderr.splitlines()[-1].startswith("Error: ")


# -- against a live server ------------------------------------------------------------------------------------


def test_commands_against_a_live_server(live, tiny_gguf, script_gguf):
    proc = live.create("tiny", tiny_gguf, "SYSTEM You are tiny.\n")
    assert proc.stderr.splitlines()[-1] == "success"
    assert re.search(r"^copying file sha256:[0-9a-f]{64} 100%$", proc.stderr, re.M)
    live.create("scripted", script_gguf)
    version = live("-v", check=True).stdout
    assert re.fullmatch(r"ollamalib version is \S+\n", version)

    listed = live("list", check=True).stdout.splitlines()
    assert listed[0].split() == ["NAME", "ID", "SIZE", "MODIFIED"]
    assert sorted(line.split()[0] for line in listed[1:]) == ["scripted:latest", "tiny:latest"]
    assert "  System\n    You are tiny.\n" in live("show", "tiny", check=True).stdout
    assert re.fullmatch(r"Error: model 'nope(:latest)?' not found\n", live("show", "nope").stderr)

    assert live("run", "scripted", "hi", "--keepalive", "10m", check=True).stdout == f"{SCRIPT}\n\n"
    ps = live("ps", check=True).stdout.splitlines()
    assert ps[0].split()[:6] == ["NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT"] + (["SLOTS"] if "SLOTS" in ps[0]
                                                                                  else ["UNTIL"])
    assert re.match(rf"scripted:latest\s+{ID}\s+\S+ [KMG]?B\s+100% CPU\s+\d+\s+(\d+/\d+\s+)?(9|10) minutes from now",
                    ps[1]), ps[1]
    assert live("stop", "scripted", check=True).stdout == ""
    assert live("ps", check=True).stdout.splitlines()[1:] == []
    assert live("stop", "nope").stderr == 'Error: couldn\'t find model "nope" to stop\n'

    assert live("cp", "tiny", "copy", check=True).stdout == "copied 'tiny' to 'copy'\n"
    assert live("rm", "copy", "tiny", check=True).stdout == "deleted 'copy'\ndeleted 'tiny'\n"
    assert [line.split()[0] for line in live("ls", check=True).stdout.splitlines()[1:]] == ["scripted:latest"]


def test_serve_command_creates_the_key_and_serves(tmp_path, script_gguf):
    """``ollamalib serve`` makes the signing key, then serves; ``--host`` routes one command to it."""
    local = make_cli(tmp_path / "both")
    server = start_server(local, via_cli=True)
    try:
        remote = local.with_host(server.url)
        remote.create("scripted", script_gguf)
        columns = [line.split()[:4] for line in remote("list", check=True).stdout.splitlines()]
        assert [line.split()[:4] for line in local("--host", server.url, "list", check=True).stdout.splitlines()] == columns
        assert columns[1][0] == "scripted:latest"
        key = local.home / "id_ed25519"
        assert key.is_file()
        assert f"Couldn't find '{key}'. Generating new private key." in server.log.read_text()
    finally:
        server.stop()


def test_backend_choice(tmp_path, script_gguf):
    """One function decides: explicit host -> that server or an error; else the default address if it answers,
    else in-process."""
    from ollamalib.config import Settings
    from ollamalib_cli._backend import normalize_host, target
    from ollamalib_cli._errors import ServerUnreachableError

    local = make_cli(tmp_path / "probe")
    server = start_server(local)
    dead = f"http://127.0.0.1:{free_port()}"
    try:
        up = Settings.from_env({}, host=server.url)
        down = Settings.from_env({}, host=dead)
        assert target(up, None, explicit=False) == server.url  # a server answers at the default address
        assert target(down, None, explicit=False) is None  # nobody there: in-process
        assert target(down, server.url, explicit=False) == server.url  # --host
        assert target(up, None, explicit=True) == server.url  # OLLAMA_HOST
        with pytest.raises(ServerUnreachableError):
            target(down, None, explicit=True)
        with pytest.raises(ServerUnreachableError):
            target(up, dead, explicit=False)
    finally:
        server.stop()
    assert normalize_host("example.com") == "http://example.com:11434"
    assert normalize_host("http://h:8080/") == "http://h:8080"
    assert normalize_host("https://h") == "https://h:443"


def test_pull_from_a_host_that_does_not_resolve(tmp_path):
    """Ollama's message names the registry host; the server logs one line with the cause, no traceback."""
    local = make_cli(tmp_path / "offline")
    server = start_server(local)
    try:
        r = local.with_host(server.url)("pull", "nonexistent.invalid/library/x:latest")
    finally:
        server.stop()
    assert r.returncode == 1
    assert ('Error: pull model manifest: Get "https://nonexistent.invalid/v2/library/x/manifests/latest": '
            "dial tcp: lookup nonexistent.invalid: no such host") in r.stderr
    log = server.log.read_text()
    assert [line for line in log.splitlines() if "no such host" in line and "nonexistent.invalid" in line]
    assert "Traceback" not in log
