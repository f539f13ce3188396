"""The native routes' Go-typed field tables come from the request models: nothing to keep in step by hand."""

from __future__ import annotations

import pytest

from ollamalib import requests
from ollamalib_server import _bodies as bodies

TABLES = {bodies.GENERATE: requests.GenerateRequest, bodies.CHAT: requests.ChatRequest,
          bodies.EMBED: requests.EmbedRequest, bodies.EMBEDDINGS: requests.EmbeddingsRequest,
          bodies.RERANK: requests.RerankRequest, bodies.CREATE: requests.CreateRequest,
          bodies.SHOW: requests.ShowRequest, bodies.COPY: requests.CopyRequest, bodies.DELETE: requests.DeleteRequest,
          bodies.PULL: requests.PullRequest, bodies.PUSH: requests.PushRequest,
          bodies.SYSTEMONE: requests.SystemOneRequest}


@pytest.mark.parametrize("table", TABLES, ids=[t.name for t in TABLES])
def test_every_request_field_is_decoded_with_the_go_type_the_model_reports(table):
    model = TABLES[table]
    wire = {info.alias or name for name, info in model.model_fields.items()}
    assert wire <= set(table.fields) and table.name == (model.go_name or model.__name__)


def test_plain_annotations_become_their_go_types():
    assert bodies.GENERATE.fields["context"].go == "[]int" and bodies.CREATE.fields["files"].go == "map[string]string"


def test_a_field_without_a_go_type_is_refused_when_the_table_is_built():
    class Odd(requests.Request):
        model: str = ""
        shape: tuple[int, int] | None = None

    with pytest.raises(TypeError, match=r"Odd.shape: no Go type"):
        bodies.derived(Odd)
    assert set(bodies.derived(Odd, special={"shape": bodies.AnyValue()}).fields) == {"model", "shape"}
