import math

import pytest

from ollamalib.config import FOREVER, Settings, format_duration, parse_duration, parse_host, parse_keep_alive
from ollamalib.errors import InvalidOptionError


def test_defaults():
    s = Settings.from_env({})
    assert s.host == "http://127.0.0.1:11434"
    assert s.keep_alive == 300
    assert s.num_parallel == 4
    assert s.max_loaded_models == 3
    assert s.max_queue == 512
    assert s.context_length == 4096
    assert s.models.name == "models"
    assert "http://localhost" in s.all_origins and "app://*" in s.all_origins


def test_environment_values_are_cleaned():
    s = Settings.from_env(
        {
            "OLLAMA_HOST": ' "0.0.0.0:8080" ',
            "OLLAMA_MODELS": "/tmp/m",
            "OLLAMA_KEEP_ALIVE": "1h",
            "OLLAMA_NUM_PARALLEL": "2",
            "OLLAMA_MAX_QUEUE": "7",
            "OLLAMA_ORIGINS": "http://a.example, http://b.example",
            "OLLAMA_NOPRUNE": "whatever",
            "OLLAMA_DEBUG": "1",
        }
    )
    assert s.host == "http://0.0.0.0:8080"
    assert str(s.models) == "/tmp/m"
    assert s.keep_alive == 3600
    assert (s.num_parallel, s.max_queue) == (2, 7)
    assert s.origins == ("http://a.example", "http://b.example")
    assert s.noprune is True  # unparseable non-empty booleans count as true, as in Ollama
    assert s.debug == 1


def test_keep_alive_from_env_accepts_seconds_and_negative():
    assert Settings.from_env({"OLLAMA_KEEP_ALIVE": "60"}).keep_alive == 60
    assert Settings.from_env({"OLLAMA_KEEP_ALIVE": "-1"}).keep_alive == FOREVER


def test_overrides_win():
    assert Settings.from_env({"OLLAMA_NUM_PARALLEL": "2"}, num_parallel=8).num_parallel == 8


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, ("http", "127.0.0.1", 11434)),
        ("0.0.0.0", ("http", "0.0.0.0", 11434)),
        (":8000", ("http", "127.0.0.1", 8000)),
        ("example.com:99", ("http", "example.com", 99)),
        ("http://example.com", ("http", "example.com", 80)),
        ("https://example.com", ("https", "example.com", 443)),
        ("ollama.com", ("https", "ollama.com", 443)),
        ("[::1]:5000", ("http", "::1", 5000)),
        ("example.com:notaport", ("http", "example.com", 11434)),
    ],
)
def test_parse_host(value, expected):
    assert parse_host(value) == expected


@pytest.mark.parametrize(
    "text, seconds",
    [("5m", 300), ("1h30m", 5400), ("-1m", -60), ("0", 0), ("1.5s", 1.5), ("300ms", 0.3), ("2h0m0s", 7200)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


def test_duration_errors_use_go_text():
    with pytest.raises(InvalidOptionError, match=r'time: missing unit in duration "3600"'):
        parse_keep_alive("3600")
    with pytest.raises(InvalidOptionError, match=r'time: unknown unit "x" in duration "5x"'):
        parse_duration("5x")


def test_keep_alive_values():
    assert parse_keep_alive(None) is None
    assert parse_keep_alive(0) == 0
    assert parse_keep_alive(2.5) == 2.5
    assert parse_keep_alive("-5m") == math.inf
    assert parse_keep_alive(-1) == math.inf


@pytest.mark.parametrize("seconds, text", [(300, "5m0s"), (3600, "1h0m0s"), (1.5, "1.5s"), (0, "0s"), (0.25, "250ms")])
def test_format_duration_like_go(seconds, text):
    assert format_duration(seconds) == text


def test_as_env_hides_api_key():
    env = Settings.from_env({"OLLAMA_API_KEY": "secret"}).as_env()
    assert env["OLLAMA_API_KEY"] == "(set)" and "secret" not in str(env)
    assert env["OLLAMA_KEEP_ALIVE"] == "5m0s"


def test_durations_beyond_go_range():
    with pytest.raises(InvalidOptionError, match=r'time: invalid duration "99999999h"'):
        parse_keep_alive("99999999h")
    assert parse_keep_alive(1e300) == FOREVER


def test_input_limits_from_the_environment():
    assert Settings.from_env({}).max_grammar_repeats == 100_000
    assert Settings.from_env({"OLLAMALIB_MAX_GRAMMAR_REPEATS": "500"}).max_grammar_repeats == 500
    assert Settings.from_env({"OLLAMALIB_MAX_GRAMMAR_REPEATS": "junk"}).max_grammar_repeats == 100_000


def test_context_overflow_setting():
    assert Settings.from_env({}).context_overflow is None  # each API keeps its own default
    assert Settings.from_env({"OLLAMALIB_CONTEXT_OVERFLOW": " Error "}).context_overflow == "error"
    assert Settings.from_env({"OLLAMALIB_CONTEXT_OVERFLOW": "truncate"}).context_overflow == "truncate"
    assert Settings.from_env({"OLLAMALIB_CONTEXT_OVERFLOW": "maybe"}).context_overflow is None
    assert Settings.from_env({"OLLAMALIB_CONTEXT_OVERFLOW": "error"}).as_env()["OLLAMALIB_CONTEXT_OVERFLOW"] == "error"


def test_prompt_cache_size_from_the_environment():
    assert Settings.from_env({}).cache_ram_mib == 2048
    assert Settings.from_env({"OLLAMALIB_CACHE_RAM": "512"}).cache_ram_mib == 512
    assert Settings.from_env({"OLLAMALIB_CACHE_RAM": "0"}).cache_ram_mib == 0
    assert Settings.from_env({"OLLAMALIB_CACHE_RAM": "-3"}).cache_ram_mib == 0
    assert Settings.from_env({"OLLAMALIB_CACHE_RAM": "lots"}).cache_ram_mib == 2048
    assert Settings.from_env({}).as_env()["OLLAMALIB_CACHE_RAM"] == "2048"


def test_prompt_cache_directory_from_the_environment(tmp_path):
    assert Settings.from_env({}).cache_dir is None and Settings.from_env({}).as_env()["OLLAMALIB_CACHE_DIR"] == ""
    on = Settings.from_env({"OLLAMALIB_CACHE_DIR": str(tmp_path), "OLLAMALIB_CACHE_DISK": "100"})
    assert on.cache_dir == tmp_path and on.cache_disk_mib == 100
    assert on.as_env()["OLLAMALIB_CACHE_DIR"] == str(tmp_path) and on.as_env()["OLLAMALIB_CACHE_DISK"] == "100"
    assert Settings.from_env({"OLLAMALIB_CACHE_DISK": "x"}).cache_disk_mib == 8192
    assert Settings.from_env({"OLLAMALIB_CACHE_DISK": "-1"}).cache_disk_mib == 0
