"""Prompt templates: Ollama's Go templates rendered byte for byte, and GGUF Jinja chat templates.

``Template`` is the entry point for both kinds; ``GoTemplate`` is the Go text/template engine underneath;
``match_named_template`` picks Ollama's named template for a GGUF's Jinja template.
"""

from __future__ import annotations

from ._errors import TemplateExecError, TemplateSyntaxError
from ._template import DEFAULT_TEMPLATE, Template, TemplateKind, detect_kind
from ._gotemplate import GoTemplate
from ._named import NamedTemplate, levenshtein, load_named_templates, match_named_template

__all__ = [
    "DEFAULT_TEMPLATE",
    "GoTemplate",
    "NamedTemplate",
    "Template",
    "TemplateExecError",
    "TemplateKind",
    "TemplateSyntaxError",
    "detect_kind",
    "levenshtein",
    "load_named_templates",
    "match_named_template",
]
