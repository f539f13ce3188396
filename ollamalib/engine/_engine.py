"""Engine: Ollama's API as methods, running models from a local store in this process."""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Literal

from ..config import Settings
from ..errors import CapabilityError, InvalidNameError, ModelNotFoundError, OllamalibError
from ..gguf import GGUFInfo
from ..names import Digest, ModelName
from ..options import default_options, merge_options
from ..parsers import ToolCallParser
from ..protocol import FormatArg, OllamaAPI
from ..requests import (  # the handlers of Engine.send, one per request
    BlobRequest, ChatRequest, CopyRequest, CreateRequest, DeleteRequest, EmbeddingsRequest, EmbedRequest,
    GenerateRequest, ListRequest, ProcessRequest, PullRequest, PushRequest, Request, RerankRequest, ShowRequest,
    SystemOneRequest, check_decision_size, check_message_count,
)
from ..rerank import reranker_for
from ..scheduler import Lease, LoadSpec, ModelMetrics, Scheduler
from ..show import capabilities as model_capabilities
from ..show import effective_template, show_model
from ..store import ModelRecord, ModelStore
from ..template import Template
from ..types import (
    ChatResponse, EmbeddingsResponse, EmbedResponse, GenerateResponse, ListResponse, Message, ProcessResponse,
    ProgressResponse, RerankResponse, ShowResponse, StatusResponse, SystemOneResponse, SystemOneUsage, Tool,
)
from . import _decide
from ._args import (
    check_text_size,
    filter_think_tags,
    message_texts,
    normalize,
    now,
)
from ._images import decode_image, tag_images
from ._rerank import Pairs, answer_tokens, generative_scores, order
from ._run import Model, Plan, Run, aggregate, iterate, strip_bos

__all__ = ["Engine"]

log = logging.getLogger("ollamalib.engine")

IMAGE_TOKENS = 768  # what Ollama counts per image when fitting chat history (server/prompt.go)
VISION_MIN_CTX = 2048  # the smallest num_ctx Ollama gives a model with a projector (sched.go getRunner)
VOCABULARIES_KEPT = 4  # tokenizers loaded for prompt preparation (Engine._vocabulary)


class Engine(OllamaAPI):
    """Run models from a local store the way an Ollama server does, in this process.

    ``Engine()`` reads settings from the environment (``OLLAMA_MODELS``, ``OLLAMA_KEEP_ALIVE``...); keyword
    overrides are Settings fields, e.g. ``Engine(models=Path("/tmp/models"), keep_alive=0)``.
    """

    def __init__(self, settings: Settings | None = None, *, store: ModelStore | None = None, **overrides: Any) -> None:
        settings = settings if settings is not None else Settings.from_env()
        if overrides:
            settings = settings.replace(**overrides)
        self.settings = settings
        self.store = store if store is not None else ModelStore(settings.models)
        try:  # temporary files of processes that died (lock files tell), removed at once
            self.store.remove_leftovers()
        except OSError:
            pass
        self.scheduler = Scheduler(settings)
        self._info_cache: dict[tuple[str, int], GGUFInfo] = {}
        self._cache_lock = threading.Lock()
        self._vocabs: OrderedDict[tuple[str, int], Any] = OrderedDict()  # path, mtime -> runner.Vocabulary
        self._vocab_lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------------------

    def close(self) -> None:
        """Unload every model."""
        self.scheduler.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- typed requests ----------------------------------------------------------------------------------

    def send(self, request: Request, *, stream: bool = False) -> Any:
        """Run one typed request: what each method of the surface does once it has built it.

        Generate and chat are planned (``plan``) and run; pull, push and create yield progress events (the last
        one alone unless ``stream``); every other request answers with one response.
        """
        if isinstance(request, GenerateRequest | ChatRequest):
            plan = self.plan(request)
            if not isinstance(plan, Plan):
                return iter([plan]) if stream else plan
            chunks = iterate(Run(plan, self.scheduler))
            return chunks if stream else aggregate(chunks)
        handler = _HANDLERS.get(type(request))
        if handler is None:
            raise TypeError(f"Engine.send takes a request of ollamalib.requests, not {type(request).__name__}")
        result = handler(self, request)
        if isinstance(request, PullRequest | PushRequest | CreateRequest):
            return result if stream else _last(result)
        return result

    def plan(self, request: GenerateRequest | ChatRequest) -> Plan | GenerateResponse | ChatResponse:
        """Resolve a request into the plan a Run executes, or the answer itself for a load or unload call.

        Raises the request's errors: unknown model, missing capability, bad format.
        """
        started = time.perf_counter_ns()
        if isinstance(request, GenerateRequest):
            return self._plan_generate(request, started)
        return self._plan_chat(request, started)

    def _plan_generate(self, req: GenerateRequest, started: int) -> Plan | GenerateResponse:
        model, prompt, ka = req.model, req.prompt or "", req.keep_alive
        if not model:
            raise ModelNotFoundError(model)
        m = self._model(model)
        check_text_size((prompt, req.suffix, req.system, req.template), self.settings.max_prompt_bytes)
        image_data = list(req.images or [])
        if not prompt and not image_data and ka == 0:
            self._unload(m.record)
            return GenerateResponse(model=model, created_at=now(), response="", done=True, done_reason="unload")
        m.require("completion", quoted=True)
        if req.suffix:
            m.require("insert")
        if image_data:
            self._require_vision(m)
        think = self._think(m, req.think)
        grammar = self._grammar(req.format)
        opts = self._merged_options(m, req.options_dict())
        if not prompt and not image_data:
            self._load_only(m, opts, ka)
            return GenerateResponse(model=model, created_at=now(), response="", done=True, done_reason="load")
        tmpl = Template(req.template, kind="go") if req.template else m.template
        record, suffix, system, context, raw = m.record, req.suffix, req.system, req.context, req.raw

        def build(run: Run, vocab: Any) -> str:
            if raw:
                run.images = [decode_image(x) for x in image_data]
                return prompt
            prefix = vocab.detokenize(list(context)) if context else ""
            if suffix:
                return prefix + self._render(m, tmpl, prompt=prompt, suffix=suffix, think=think)
            msgs: list[Message] = []
            sys_text = system or record.system
            if sys_text:
                msgs.append(Message(role="system", content=sys_text))
            if not context:
                msgs += record.messages
            msgs.append(Message(role="user", content=prompt, images=image_data or None))
            msgs, images = tag_images(msgs)
            run.images = [decode_image(x) for x in images]
            return prefix + self._render(m, tmpl, messages=msgs, think=think)

        return self._make_plan("generate", m, req, opts, build, grammar, think, started)

    def _plan_chat(self, req: ChatRequest, started: int) -> Plan | ChatResponse:
        model, ka = req.model, req.keep_alive
        if not model:
            raise InvalidNameError("model is required")
        m = self._model(model)
        check_message_count(req.messages, self.settings.max_messages)
        msgs = list(req.messages or [])
        check_text_size(message_texts(msgs), self.settings.max_prompt_bytes)
        if not msgs and ka == 0:
            self._unload(m.record)
            return ChatResponse(model=model, created_at=now(), message=Message(role="assistant", content=""),
                                done=True, done_reason="unload")
        if "completion" not in m.capabilities:
            raise CapabilityError(f'"{model}" does not support chat')
        tool_list = req.offered_tools()  # none at all with tool_choice "none": not shown, not parsed
        if tool_list:
            m.require("tools")
        if any(msg.images for msg in msgs):
            self._require_vision(m)
        think = self._think(m, req.think)
        forced = req.forced_tools()
        grammar = self._tool_grammar(m, forced) if forced else self._grammar(req.format)
        opts = self._merged_options(m, req.options_dict())
        if not msgs:
            self._load_only(m, opts, ka)
            return ChatResponse(model=model, created_at=now(), message=Message(role="assistant", content=""),
                                done=True, done_reason="load")
        record = m.record
        history = list(record.messages) + msgs
        if msgs[0].role != "system" and record.system:
            history.insert(0, Message(role="system", content=record.system))
        if record.config.model_family == "qwen3" or m.name.model.startswith("deepseek-r1"):
            history = filter_think_tags(history)
        do_truncate = req.truncate is not False and self._overflow(opts) == "truncate"
        num_ctx = opts["num_ctx"]

        def build(run: Run, vocab: Any) -> str:
            prompt, images, run.fitted = self._fit_chat(m, vocab, history, tool_list, think, num_ctx, do_truncate,
                                                        run.check_cancelled)
            run.images = [decode_image(x) for x in images]
            return prompt

        return self._make_plan("chat", m, req, opts, build, grammar, think, started, tools=tool_list or None)

    def _make_plan(
        self, kind: Literal["generate", "chat"], m: Model, req: GenerateRequest | ChatRequest, opts: dict[str, Any],
        build: Callable[[Run], str], grammar: str | None, think: bool | str | None, started: int,
        tools: list[Tool] | None = None,
    ) -> Plan:
        return Plan(
            kind=kind, model=m, options=opts, keep_alive=req.keep_alive, load=self._load_spec(m, opts),
            vocabulary=partial(self._vocabulary, m),
            sampling=sampling_options(opts, bool(req.logprobs), req.top_logprobs or 0), build_prompt=build,
            grammar=grammar, think=think, tools=tools, raw=bool(getattr(req, "raw", False)),
            truncate=req.truncate is not False, shift=req.shift is not False, overflow=self._overflow(opts),
            started_ns=started,
        )

    def _overflow(self, opts: Mapping[str, Any]) -> str:
        """The request's context_overflow policy: its option (or the Modelfile's), else the setting, else
        Ollama's truncation."""
        return opts.get("context_overflow") or self.settings.context_overflow or "truncate"

    @staticmethod
    def _think(m: Model, think: bool | str | None) -> bool | str | None:
        """The request's think value against the model: on by default for a thinking model."""
        if think and "thinking" not in m.capabilities:
            raise CapabilityError(f'"{m.requested}" does not support thinking')
        if think is None and "thinking" in m.capabilities:
            return True
        return think

    def _fit_chat(
        self,
        m: Model,
        vocab: Any,
        msgs: list[Message],
        tools: list[Tool],
        think: bool | str | None,
        num_ctx: int,
        truncate: bool,
        check: Callable[[], None] = lambda: None,
    ) -> tuple[str, list[str], tuple[int, int] | None]:
        """Render the chat, dropping the oldest messages until it fits num_ctx (server/prompt.go chatPrompt).

        System messages and the last message are always kept. Returns the prompt, the images (base64) of the
        kept messages, which the prompt names with ``[img-N]`` tags, and, when messages were dropped, how many
        and the token count of the whole chat (what the truncation report says).

        Ollama renders and tokenizes once per dropped message, which is quadratic in the history. Here the kept
        part is found by doubling it from the end and then bisecting (a prompt only shrinks as messages are
        dropped), and a prompt with no more bytes than num_ctx fits without tokenizing, so the work grows with
        what is kept, not with the history. ``check`` runs before each render: it raises when the caller is gone.
        """
        kw = {"think": think}
        image_cost = IMAGE_TOKENS if m.record.projectors else 0
        rendered: dict[int, str] = {}
        counted: dict[int, int] = {}

        def render(start: int, tagged: list[Message] | None = None) -> str:
            check()
            system = [x for x in msgs[:start] if x.role == "system"]
            kept = tagged if tagged is not None else msgs[start:]
            return self._render(m, m.template, messages=system + kept, tools=tools or None, **kw)

        def final(start: int) -> tuple[str, list[str], tuple[int, int] | None]:
            # Only messages with images change when tagged; without any, the prompt already rendered is final.
            tagged, images = tag_images(msgs[start:])
            dropped = (start - sum(x.role == "system" for x in msgs[:start]), counted[0]) if start else None
            if start in rendered and not images:
                return rendered[start], images, dropped
            return render(start, tagged), images, dropped

        def fits(start: int) -> bool:
            text = rendered[start] = render(start)
            images = sum(len(x.images or []) for x in msgs[start:])
            extra = image_cost * images + 2  # a token holds at least one byte, plus a BOS and an EOS
            if len(text) * 4 + extra <= num_ctx or len(text.encode("utf-8", "surrogatepass")) + extra <= num_ctx:
                return True
            check()
            counted[start] = len(vocab.tokenize(strip_bos(vocab, text))) + image_cost * images
            return counted[start] <= num_ctx

        last = len(msgs) - 1
        if not truncate or last < 1 or fits(0):
            return final(0)
        fitting, failing, step = last, 0, 1  # msgs[fitting:] fits (the last message is kept regardless)
        while last - step > 0:
            if not fits(last - step):
                failing = last - step
                break
            fitting, step = last - step, step * 2
        while fitting - failing > 1:
            middle = (fitting + failing) // 2
            if fits(middle):
                fitting = middle
            else:
                failing = middle
        log.debug("truncating input messages which exceed context length: kept %d of %d", len(msgs) - fitting,
                  len(msgs))
        return final(fitting)

    # -- embeddings --------------------------------------------------------------------------------------

    def embed_request(self, req: EmbedRequest) -> EmbedResponse:
        """Run an embed request (what ``embed`` does once it has built it)."""
        started = time.perf_counter_ns()
        if not req.model:
            raise ModelNotFoundError(req.model)
        m = self._model(req.model)
        lease = self._acquire(m, self._merged_options(m, req.options_dict()), req.keep_alive)
        texts = req.texts
        try:
            if not texts:
                return EmbedResponse(model=req.model, embeddings=[], total_duration=time.perf_counter_ns() - started,
                                     load_duration=lease.load_duration_ns)
            vectors, n_tokens = lease.runner.embed(texts, truncate=req.truncate is not False)
        finally:
            lease.release()
        return self._embed_response(req.model, vectors, n_tokens, req.dimensions, started, lease.load_duration_ns)

    @staticmethod
    def _embed_response(
        model: str, vectors: Sequence[Sequence[float]], n_tokens: int, dimensions: int | None, started: int,
        load_ns: int,
    ) -> EmbedResponse:
        out = []
        for vec in vectors:
            if any(math.isnan(v) or math.isinf(v) for v in vec):
                raise OllamalibError("embedding contains NaN or Inf values")
            vec = normalize(vec)
            if dimensions and dimensions < len(vec):
                vec = normalize(vec[:dimensions])
            out.append(vec)
        return EmbedResponse(
            model=model, embeddings=out, total_duration=time.perf_counter_ns() - started, load_duration=load_ns,
            prompt_eval_count=n_tokens,
        )

    def embeddings_request(self, req: EmbeddingsRequest) -> EmbeddingsResponse:
        """Run a legacy embeddings request (what ``embeddings`` does once it has built it)."""
        model = req.model
        if not model:
            raise InvalidNameError("model is required")
        try:
            m = self._model(model)
        except ModelNotFoundError:
            raise ModelNotFoundError(model, f'model "{model}" not found, try pulling it first') from None
        lease = self._acquire(m, self._merged_options(m, req.options_dict()), req.keep_alive)
        try:
            if not req.prompt:
                return EmbeddingsResponse(embedding=[])
            vectors, _ = lease.runner.embed([req.prompt], truncate=True)
        finally:
            lease.release()
        return EmbeddingsResponse(embedding=[float(v) for v in vectors[0]])

    # -- rerank ------------------------------------------------------------------------------------------

    def rerank_request(self, req: RerankRequest) -> RerankResponse:
        """Run a rerank request (what ``rerank`` does once it has built it)."""
        started = time.perf_counter_ns()
        if not req.model:
            raise ModelNotFoundError(req.model)
        m = self._model(req.model)
        opts = self._merged_options(m, req.options_dict())
        reranker = reranker_for(m.record, m.info, opts)
        if reranker is None:
            raise CapabilityError(f'"{req.model}" does not support rerank')
        vocab = self._vocabulary(m)
        cross = reranker.kind == "cross-encoder"
        lease = self._acquire(m, opts, req.keep_alive)
        try:
            runner = lease.runner
            if cross:
                pairs = Pairs(vocab, reranker, req, runner.max_input_tokens)
                scores = [float(v[0]) for v in runner.rank(pairs.inputs)]
            else:
                answers = answer_tokens(vocab, reranker)
                pairs = Pairs(vocab, reranker, req, runner.context_length - max(map(len, answers)))
                scores = generative_scores(runner.score_all([(p, answers) for p in pairs.inputs]))
        finally:
            lease.release()
        if any(math.isnan(v) or math.isinf(v) for v in scores):
            raise OllamalibError("rerank score contains NaN or Inf values")
        return order(req, req.model, scores, pairs, started, lease.load_duration_ns, time.perf_counter_ns())

    # -- decisions ---------------------------------------------------------------------------------------

    def systemone_request(self, req: SystemOneRequest) -> SystemOneResponse:
        """Run a decision request (what ``systemone`` does once it has built it); no streaming."""
        if not req.model:
            raise InvalidNameError("model is required")
        m = self._model(req.model)
        if "completion" not in m.capabilities:
            raise CapabilityError(f'"{req.model}" does not support systemone')
        questions = req.questions or {}
        state = req.state if req.state is not None else ""
        check_decision_size(questions, self.settings.max_questions, self.settings.max_choices)
        check_text_size(_decide.prompt_texts(state, questions), self.settings.max_prompt_bytes)
        vocab = self._vocabulary(m)
        own = m.info.decision_template if m.info else None  # a decision model keeps its own prompt format
        template = Template(own, kind="jinja") if own else m.template
        asks = []
        for qid, question in questions.items():
            text = strip_bos(vocab, self._render(m, template, messages=_decide.messages(state, question),
                                                 think=False))
            prompt = vocab.tokenize(text)
            forms = _decide.forms(question)
            conts = [_decide.continuation_tokens(vocab.tokenize, text, prompt, form) for group in forms for form in group]
            asks.append(_decide.Ask(qid, question, prompt, conts, [len(group) for group in forms]))
        lease = self._acquire(m, self._merged_options(m, req.options_dict()), req.keep_alive)
        try:
            # One question after another: each finds the state already in its slot (prefix reuse reads only its
            # own part, which beats reading the whole state in several slots at once), and each question's
            # numbers are those it gets alone (read together, a quantized model's logits shift with the batch).
            finals = [lease.runner.score_all([(ask.prompt, ask.continuations)])[0] for ask in asks]
        finally:
            lease.release()
        answers = {ask.qid: _decide.answer(ask.question, final.scores or [], ask.groups)
                   for ask, final in zip(asks, finals)}
        usage = SystemOneUsage(input_tokens=sum(len(ask.prompt) for ask in asks), output_tokens=len(asks))
        return SystemOneResponse(model=req.model, answers=answers, usage=usage)

    def render_prompt(self, request: GenerateRequest | ChatRequest | str, /, **kwargs: Any) -> tuple[str, int]:
        """The prompt a generate or chat request would give the model, and how many images it carries, without
        running it (Ollama's ``_debug_render_only``). ``render_prompt("chat", model=..., messages=...)`` builds
        the request from keyword arguments. Loads the model, as Ollama does, since history truncation and
        ``context`` need its tokenizer; a call that only loads or unloads renders "".
        """
        rendered = self._rendered(request, kwargs, count=False)
        return (rendered[0], rendered[1]) if rendered else ("", 0)

    def count_tokens(self, request: GenerateRequest | ChatRequest | str, /, **kwargs: Any) -> int:
        """How many prompt positions a generate or chat request would evaluate (images count as the positions
        their embeddings take), without running it: Anthropic's ``count_tokens``. Arguments as ``render_prompt``."""
        rendered = self._rendered(request, kwargs, count=True)
        return rendered[2] if rendered else 0

    def _rendered(self, request: GenerateRequest | ChatRequest | str, kwargs: dict[str, Any],
                  *, count: bool) -> tuple[str, int, int] | None:
        """The prompt, its image count and (with ``count``) its length in positions; None for a load-only call."""
        if isinstance(request, str):
            request = GenerateRequest(**kwargs) if request == "generate" else ChatRequest(**kwargs)
        plan = self.plan(request)
        if not isinstance(plan, Plan):
            return None
        run = Run(plan, self.scheduler)
        try:
            prompt = plan.build_prompt(run, plan.vocabulary())  # holding no runner slot meanwhile
            runner = run.acquire().runner
            n = 0
            if count:
                tokens = run._tokenize(runner, prompt)
                n = len(tokens) + getattr(tokens, "image_tokens", 0)
            return prompt, len(run.images), n
        finally:
            run.close()

    # -- model management --------------------------------------------------------------------------------

    def _pull(self, req: PullRequest) -> Iterator[ProgressResponse]:
        """Download a model from its registry into the store (Ollama's /api/pull)."""
        return self._pull_events(req.model, req.insecure)

    def _pull_events(self, model: str, insecure: bool) -> Iterator[ProgressResponse]:
        from ..registry import Registry

        from ..create import create_model

        ModelName.parse(model)

        def build(name: ModelName, files: dict[str, str]) -> Iterator[ProgressResponse]:
            return create_model(self.store, name, files=files)

        with Registry(self.store, settings=self.settings, model_builder=build) as registry:
            yield from registry.pull(model, insecure=insecure)

    def _push(self, req: PushRequest) -> Iterator[ProgressResponse]:
        """Upload a model from the store to its registry (Ollama's /api/push)."""
        if not req.model:
            raise InvalidNameError("model is required")
        return self._push_events(req.model, req.insecure)

    def _push_events(self, model: str, insecure: bool) -> Iterator[ProgressResponse]:
        from ..registry import Registry

        with Registry(self.store, settings=self.settings) as registry:
            yield from registry.push(model, insecure=insecure)

    def _create(self, req: CreateRequest) -> Iterator[ProgressResponse]:
        """Create a model (Ollama's /api/create), pulling a ``from`` model the store lacks first."""
        ModelName.parse(req.model)
        return self._create_events(req)

    def _create_events(self, req: CreateRequest) -> Iterator[ProgressResponse]:
        from ..create import Quantizer, create_from_request

        quantizer: Quantizer | None = None
        if req.quantize:  # the runner owns quantization (llama.cpp); create receives it
            from ..runner.quantize import quantize as quantizer

        if req.from_ and not req.files and self._missing_base(req.from_):
            yield from self._pull_events(str(req.from_), False)
        yield from create_from_request(self.store, req, quantizer=quantizer)

    def _missing_base(self, from_: str | ModelName) -> bool:
        """Whether ``from_`` names a model (not a blob digest or a local file) that the store lacks."""
        if isinstance(from_, ModelName):
            return not self.store.exists(from_)
        if Digest.is_valid(from_) or os.path.isfile(os.path.expanduser(from_)):  # never raises for a long name
            return False
        try:
            return not self.store.exists(ModelName.parse(from_))
        except InvalidNameError:
            return False

    def _put_blob(self, req: BlobRequest) -> str:
        return str(self.store.put_blob_file(req.path))

    def _delete(self, req: DeleteRequest) -> StatusResponse:
        model = req.model
        if not ModelName.is_valid(model):
            raise InvalidNameError(f'name "{model}" is invalid')
        try:
            record = self.store.record(model)
        except ModelNotFoundError:
            raise ModelNotFoundError(model) from None
        self._unload(record)
        self.store.delete(model)
        return StatusResponse(status="success")

    def _copy(self, req: CopyRequest) -> StatusResponse:
        source, destination = req.source, req.destination
        if not ModelName.is_valid(source):
            raise InvalidNameError(f'source "{source}" is invalid')
        if not ModelName.is_valid(destination):
            raise InvalidNameError(f'destination "{destination}" is invalid')
        try:
            self.store.copy(source, destination)
        except ModelNotFoundError:
            raise ModelNotFoundError(source, f'model "{source}" not found') from None
        return StatusResponse(status="success")

    def _list(self, req: ListRequest) -> ListResponse:
        return ListResponse(models=self.store.list())

    def _show(self, req: ShowRequest) -> ShowResponse:
        if not req.model:
            raise InvalidNameError("model is required")
        name = ModelName.parse(req.model)
        try:
            return show_model(self.store, name, verbose=bool(req.verbose))
        except ModelNotFoundError:
            raise ModelNotFoundError(name.display_shortest) from None

    def _ps(self, req: ProcessRequest) -> ProcessResponse:
        return ProcessResponse(models=self.scheduler.ps())

    def metrics(self) -> list[ModelMetrics]:
        """Per-model load counts, token counters and slot/KV gauges (what the server's /metrics exports)."""
        return self.scheduler.metrics()

    # -- internals ---------------------------------------------------------------------------------------

    def _model(self, requested: str) -> Model:
        name = ModelName.parse(requested)
        try:
            record = self.store.record(name)
        except ModelNotFoundError:
            raise ModelNotFoundError(requested) from None
        info = self._info(record.model_path)
        return Model(
            requested=requested,
            name=record.name,
            record=record,
            info=info,
            template=effective_template(record, info),
            capabilities=model_capabilities(record, info),
        )

    def _info(self, path: Path | None) -> GGUFInfo | None:
        if path is None or not path.is_file():
            return None
        key = (str(path), path.stat().st_mtime_ns)
        with self._cache_lock:
            info = self._info_cache.get(key)
        if info is None:
            info = GGUFInfo.read(path)
            with self._cache_lock:
                self._info_cache[key] = info
        return info

    def _vocabulary(self, m: Model) -> Any:
        """The tokenizer of ``m``'s weights alone (a few loaded at a time), for preparing prompts without
        holding a runner: rendering and fitting a long chat must not keep other requests to the model waiting."""
        from ..runner import Vocabulary

        path = m.record.model_path
        if path is None:
            raise OllamalibError(f"model {m.name.display_shortest} has no weights layer", status_code=500)
        key = (str(path), path.stat().st_mtime_ns)
        with self._vocab_lock:
            vocab = self._vocabs.get(key)
            if vocab is None:
                vocab = self._vocabs[key] = Vocabulary(path)
                while len(self._vocabs) > VOCABULARIES_KEPT:
                    self._vocabs.popitem(last=False)  # freed once no preparation uses it any more
            self._vocabs.move_to_end(key)
            return vocab

    def _require_vision(self, m: Model) -> None:
        if m.record.projectors:
            return
        if "vision" not in m.capabilities:
            raise CapabilityError(f"{m.name.full} does not support vision")
        # Vision built into the model's own GGUF (no separate projector) is not something libmtmd can load.
        raise OllamalibError(f"{m.name.full}: image input without a projector file is not supported by ollamalib's "
                             "runner yet", status_code=501)

    def _grammar(self, format: FormatArg) -> str | None:
        """The GBNF of a request's ``format``, built here in the caller's thread, never on the decode thread."""
        if format is None or format == "":
            return None
        from ..runner.grammar import format_to_grammar

        return format_to_grammar(dict(format) if isinstance(format, Mapping) else format,
                                 self.settings.max_grammar_repeats)

    def _tool_grammar(self, m: Model, tools: Sequence[Tool]) -> str:
        """The GBNF of one call to one of ``tools`` in ``m``'s own tool-call text (tool_choice "required" or a
        named function), so that the tool-call parser reads the forced output back as a call."""
        from ..runner.grammar import tool_call_grammar

        prefix = m.template.tool_call_prefix or "{"
        closing = ToolCallParser(prefix).closing
        if closing not in m.template.text:  # a tag the template never closes (<|python_tag|>) stays open
            closing = ""
        return tool_call_grammar([(t.function.name, t.function.parameters) for t in tools], prefix, closing,
                                 self.settings.max_grammar_repeats)

    def _merged_options(self, m: Model, request: Mapping[str, Any]) -> dict[str, Any]:
        """DefaultOptions < Modelfile parameters < request options (checked), with num_ctx capped to the model's."""
        defaults = default_options(self.settings.context_length, has_draft=m.record.draft is not None)
        opts = merge_options(defaults, m.record.parameters, request)
        train = m.info.context_length if m.info else None
        num_ctx = int(opts.get("num_ctx") or self.settings.context_length)
        if m.record.projectors:
            num_ctx = max(num_ctx, VISION_MIN_CTX)
        if train:
            num_ctx = min(num_ctx, train)
        opts["num_ctx"] = max(num_ctx, 4)
        return opts

    def _unload(self, record: ModelRecord) -> None:
        self.scheduler.unload(runner_key(record))

    def _load_spec(self, m: Model, opts: Mapping[str, Any]) -> LoadSpec:
        """What to load for ``m``: one runner per model serves generate, chat and embed alike (an embedding
        model's runner has only its embedding context; a generative model's makes one on its first embed)."""
        from ..runner import LoadOptions

        if m.record.model_path is None:
            raise OllamalibError(f"model {m.name.display_shortest} has no weights layer", status_code=500)
        embedding = m.is_embedding
        parallel = 1 if embedding else max(1, self.settings.num_parallel)
        load = LoadOptions(
            num_ctx=opts["num_ctx"],
            num_batch=opts.get("num_batch", 512),
            num_thread=opts.get("num_thread", 0),
            num_gpu=opts.get("num_gpu", -1),
            use_mmap=opts.get("use_mmap"),
            num_parallel=parallel,
            embedding=embedding,
            adapters=tuple(str(p) for p in m.record.adapters),
            projector=str(m.record.projectors[0]) if m.record.projectors and not embedding else None,
            flash_attention=self.settings.flash_attention,
            kv_cache_type=self.settings.kv_cache_type,
            draft=str(m.record.draft) if m.record.draft and not embedding else None,
            prompt_cache_bytes=0 if embedding else self.settings.cache_ram_mib << 20,
            prompt_cache_dir=str(self.settings.cache_dir) if self.settings.cache_dir else None,
            prompt_cache_disk_bytes=self.settings.cache_disk_mib << 20,
        )
        rec = m.record
        size = sum(p.stat().st_size for p in [rec.model_path, *rec.adapters, *rec.projectors, rec.draft]
                   if p and p.is_file())
        return LoadSpec(
            key=runner_key(rec),
            model_path=rec.model_path or Path(),
            load_options=load,
            name=m.name.display_shortest,
            model=m.name.display_shortest,
            digest=rec.digest,
            details=rec.details,
            size=size,
            context_length=opts["num_ctx"],
            num_parallel=parallel,
            prompt_cache_bytes=load.prompt_cache_bytes,
        )

    def _acquire(self, m: Model, opts: Mapping[str, Any], keep_alive: float | None) -> Lease:
        """The runner of ``m`` (loaded if needed), for any of its calls."""
        return self.scheduler.acquire(self._load_spec(m, opts), keep_alive)

    def _load_only(self, m: Model, opts: Mapping[str, Any], keep_alive: float | None) -> None:
        self._acquire(m, opts, keep_alive).release()

    def _render(self, m: Model, template: Template, **kwargs: Any) -> str:
        info = m.info
        return template.render(
            bos_token=(info.bos_token if info else None) or "",
            eos_token=(info.eos_token if info else None) or "",
            **kwargs,
        )


def sampling_options(opts: Mapping[str, Any], logprobs: bool, top_logprobs: int) -> Any:
    """The runner's SamplingOptions from merged options (num_predict and repeat_last_n bounded as Ollama does)."""
    from ..runner import SamplingOptions

    num_ctx = opts["num_ctx"]
    num_predict = opts.get("num_predict", -1)
    if num_predict is None or num_predict < 0 or num_predict > 10 * num_ctx:
        num_predict = 10 * num_ctx
    repeat_last_n = opts.get("repeat_last_n", 64)
    if repeat_last_n < 0:
        repeat_last_n = num_ctx
    return SamplingOptions(
        temperature=opts.get("temperature", 0.8),
        top_k=opts.get("top_k", 40),
        top_p=opts.get("top_p", 0.9),
        min_p=opts.get("min_p", 0.0),
        typical_p=opts.get("typical_p", 1.0),
        repeat_penalty=opts.get("repeat_penalty", 1.0),
        repeat_last_n=repeat_last_n,
        presence_penalty=opts.get("presence_penalty", 0.0),
        frequency_penalty=opts.get("frequency_penalty", 0.0),
        seed=opts.get("seed", -1),
        num_predict=num_predict,
        stop=list(opts.get("stop") or []),
        num_keep=opts.get("num_keep", 4),
        logprobs=logprobs,
        top_logprobs=top_logprobs,
        draft_num_predict=opts.get("draft_num_predict", -1),
        draft_ngram=opts.get("draft_ngram", 0),
    )


def runner_key(record: ModelRecord) -> tuple[str, tuple[str, ...], tuple[str, ...], str]:
    """A runner's identity: weights, adapters, projectors and draft model (one runner for generation and
    embeddings)."""
    return (str(record.model_path), tuple(map(str, record.adapters)), tuple(map(str, record.projectors)),
            str(record.draft or ""))


_HANDLERS: dict[type[Request], Callable[[Engine, Any], Any]] = {
    EmbedRequest: Engine.embed_request,
    EmbeddingsRequest: Engine.embeddings_request,
    RerankRequest: Engine.rerank_request,
    SystemOneRequest: Engine.systemone_request,
    PullRequest: Engine._pull,
    PushRequest: Engine._push,
    CreateRequest: Engine._create,
    BlobRequest: Engine._put_blob,
    DeleteRequest: Engine._delete,
    CopyRequest: Engine._copy,
    ListRequest: Engine._list,
    ShowRequest: Engine._show,
    ProcessRequest: Engine._ps,
}
"""What ``Engine.send`` runs for each request other than generate and chat."""


def _last(events: Iterable[ProgressResponse]) -> ProgressResponse:
    last = ProgressResponse(status="success")
    for event in events:
        last = event
    return last
