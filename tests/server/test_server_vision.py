"""Images over HTTP: the official ``ollama`` and ``openai`` clients against a real server with a projector model."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import ollama
import openai
import pytest
from vision_factory import png_bytes, vision_pair  # noqa: F401

from ollamalib.create import create_from_modelfile, create_model
from ollamalib.store import ModelStore

GREEDY = {"temperature": 0, "num_predict": 4}


@pytest.fixture
def vision_server(server_factory, vision_pair, tmp_path: Path):  # noqa: F811
    store = ModelStore(tmp_path / "vision-models")
    for _ in create_model(store, "plain", from_=str(vision_pair.text)):
        pass
    modelfile = f"FROM {vision_pair.text}\nFROM {vision_pair.projector}\n"
    for _ in create_from_modelfile(store, "vis", modelfile, base_dir=tmp_path):
        pass
    return server_factory(models=tmp_path / "vision-models")


def test_ollama_client_generate_and_chat_with_images(vision_server):
    client = ollama.Client(vision_server.url)
    image = png_bytes(seed=1)
    gen = client.generate("vis", "What is this?", images=[image], options=GREEDY)
    assert gen.done and gen.eval_count == 4 and gen.prompt_eval_count > 16
    other = png_bytes(seed=5)  # a new image: the previous one would come from the cache
    chat = client.chat("vis", [{"role": "user", "content": "And this?", "images": [other]}], options=GREEDY)
    assert chat.done and chat.message.role == "assistant" and chat.prompt_eval_count > 16


def test_corrupt_image_is_a_400(vision_server):
    bad = base64.b64encode(b"this is not a picture").decode()
    resp = httpx.post(vision_server.url + "/api/generate",
                      json={"model": "vis", "prompt": "x", "images": [bad], "stream": False})
    assert resp.status_code == 400
    assert resp.json() == {"error": "failed to process inputs: image: unknown format"}
    with pytest.raises(ollama.ResponseError) as info:
        ollama.Client(vision_server.url).chat("vis", [{"role": "user", "content": "x", "images": [bad]}])
    assert info.value.status_code == 400


def test_model_without_projector_is_a_400(vision_server):
    resp = httpx.post(vision_server.url + "/api/generate",
                      json={"model": "plain", "prompt": "x", "images": [base64.b64encode(png_bytes()).decode()],
                            "stream": False})
    assert resp.status_code == 400
    assert resp.json() == {"error": "registry.ollama.ai/library/plain:latest does not support vision"}


def test_openai_image_url_data_uri(vision_server):
    client = openai.OpenAI(base_url=vision_server.url + "/v1", api_key="unused", max_retries=0)
    uri = "data:image/png;base64," + base64.b64encode(png_bytes(seed=2)).decode()
    resp = client.chat.completions.create(
        model="vis", max_tokens=4, temperature=0,
        messages=[{"role": "user", "content": [{"type": "text", "text": "What is it?"},
                                               {"type": "image_url", "image_url": {"url": uri}}]}],
    )
    assert resp.choices[0].message.content is not None
    assert resp.usage.prompt_tokens > 16 and resp.usage.completion_tokens == 4


def test_debug_render_only_counts_the_images(vision_server):
    image = base64.b64encode(png_bytes(seed=2)).decode()
    body = httpx.post(vision_server.url + "/api/chat", json={
        "model": "vis", "_debug_render_only": True,
        "messages": [{"role": "user", "content": "What is this?", "images": [image, image]}]}).json()
    assert body["_debug_info"]["image_count"] == 2
    assert "[img-0][img-1]" in body["_debug_info"]["rendered_template"]
