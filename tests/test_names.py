import pytest

from ollamalib.errors import InvalidDigestError, InvalidNameError
from ollamalib.names import Digest, ModelName


@pytest.mark.parametrize(
    "text, parts",
    [
        ("llama3", ("registry.ollama.ai", "library", "llama3", "latest")),
        ("llama3:8b", ("registry.ollama.ai", "library", "llama3", "8b")),
        ("user/model", ("registry.ollama.ai", "user", "model", "latest")),
        ("example.com/user/model:q4_K_M", ("example.com", "user", "model", "q4_K_M")),
        ("localhost:5000/ns/m", ("localhost:5000", "ns", "m", "latest")),
        ("localhost:5000/ns/m:v1.2", ("localhost:5000", "ns", "m", "v1.2")),
        ("http://localhost:5000/ns/m:t", ("localhost:5000", "ns", "m", "t")),
        ("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", ("hf.co", "bartowski", "Llama-3.2-1B-Instruct-GGUF", "Q4_K_M")),
        ("_x/_y:_z", ("registry.ollama.ai", "_x", "_y", "_z")),
    ],
)
def test_parse_fills_defaults(text, parts):
    assert ModelName.parse(text).parts == parts


def test_scheme_kept_for_insecure_detection():
    assert ModelName.parse("http://localhost:5000/ns/m").scheme == "http"
    assert ModelName.parse("ns/m").scheme == "https"


@pytest.mark.parametrize(
    "text, why",
    [
        ("", "empty"),
        (":tag", "model part is empty"),
        ("model:", "tag part is empty"),
        ("/model", "namespace part is empty"),
        ("a//b", "namespace part is empty"),
        ("-model", "must start with"),
        (".model", "must start with"),
        ("..", "must start with"),
        ("../../etc/passwd", "too many"),
        ("../x", "must start with"),
        ("a/b/c/d", "too many"),
        ("na.me/model", "not allowed in the namespace"),
        ("model:ta/g", "namespace part"),
        ("mo del", "not allowed in the model"),
        ("model:t@g", "not allowed in the tag"),
        ("hö/model", "not allowed in the namespace"),
        ("h\\x/ns/model", "not allowed in the host"),
        ("ftp://h/ns/m", "unsupported scheme"),
        ("m" * 81, "longer than 80"),
        ("m:" + "t" * 81, "longer than 80"),
        ("n" * 81 + "/m", "longer than 80"),
        ("h" * 351 + "/n/m", "longer than 350"),
    ],
)
def test_invalid_names_say_what_is_wrong(text, why):
    with pytest.raises(InvalidNameError, match=why) as exc:
        ModelName.parse(text)
    assert isinstance(exc.value, ValueError)


def test_length_limits_are_inclusive():
    ModelName.parse("m" * 80 + ":" + "t" * 80)
    ModelName.parse("h" * 350 + "/" + "n" * 80 + "/m")


def test_equality_and_hash_ignore_case():
    a, b = ModelName.parse("Library/Llama3:Latest"), ModelName.parse("llama3")
    assert a == b and hash(a) == hash(b)
    assert a == "LLAMA3:latest"
    assert a != ModelName.parse("llama3:8b")


@pytest.mark.parametrize(
    "text, short",
    [
        ("llama3", "llama3:latest"),
        ("REGISTRY.ollama.ai/LIBRARY/m:t", "m:t"),
        ("user/m", "user/m:latest"),
        ("example.com/library/m", "example.com/library/m:latest"),
        ("localhost:5000/ns/m:t", "localhost:5000/ns/m:t"),
    ],
)
def test_display_shortest(text, short):
    assert ModelName.parse(text).display_shortest == short
    assert str(ModelName.parse(text)) == short


def test_full_and_repository():
    n = ModelName.parse("llama3")
    assert n.full == "registry.ollama.ai/library/llama3:latest"
    assert n.repository == "library/llama3"


def test_digest_forms():
    hexd = "a" * 64
    assert str(Digest.parse(f"sha256:{hexd}")) == f"sha256:{hexd}"
    assert Digest.parse(f"sha256-{hexd.upper()}").filename == f"sha256-{hexd}"
    assert Digest.parse(f"sha256:{hexd}").short == hexd[:12]
    for bad in ["", "sha256:abc", f"sha512:{hexd}", f"sha256:{'g' * 64}", f"sha256:{hexd}/../x"]:
        with pytest.raises(InvalidDigestError, match="invalid digest format"):
            Digest.parse(bad)
