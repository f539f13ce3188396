"""The runner: one loaded GGUF model on llama.cpp; the only package that imports ``llama_cpp``.

Everything above it speaks token ids, options and pieces of text::

    runner = Runner("model.gguf", LoadOptions(num_ctx=4096, num_parallel=4))
    seq = runner.submit(runner.tokenize("Why is the sky blue?"), SamplingOptions(temperature=0, stop=["\\n\\n"]))
    for piece in seq:                     # or: async for piece in seq  (never blocks the event loop)
        print(piece.text, end="")
    seq.result                            # Final: done_reason, prompt_eval_count, eval_count, context, ...
    runner.close()

Contract (what the scheduler and the Engine rely on):

- ``Runner(model_path, LoadOptions)`` loads the model and one llama.cpp context with ``num_parallel`` sequence
  slots of ``num_ctx`` tokens each (capped at the model's training context: ``runner.context_length``). A
  bad file raises RunnerError. Attributes: ``model_path, options, n_ctx_train, n_vocab, n_embd, bos_token,
  eos_token, bos_id, eos_id, add_bos, is_embedding, can_shift, context_length``.
- ``tokenize(text, add_special=True, parse_special=True)``, ``detokenize(tokens)``, ``token_bytes(token)``; every
  token id a caller passes in (``detokenize``, ``submit``...) is checked against the vocabulary first
  (``check_tokens``: InvalidOptionError, 400), since llama.cpp aborts the process on a bad one. Tokenizing takes
  time linear in the text, also with many special tokens in it.
- ``Vocabulary(model_path)``: the same tokenizer loaded alone (vocab-only), so the Engine can render and fit a
  prompt without holding a runner slot or lock.
- Images: with ``LoadOptions(projector="mmproj.gguf")`` the runner loads a libmtmd projector (``has_vision``);
  ``tokenize_images([text, image_bytes, text, ...]) -> ImagePrompt`` tokenizes text and images (PNG, JPEG, GIF,
  BMP... file bytes) in order; each image takes as many positions as it has embeddings, holding negative ids
  derived from its hash, so prefix reuse never takes one image's KV for another. Undecodable bytes raise
  ImageError (Ollama's "failed to process inputs: image: unknown format"). Projectors that need M-RoPE
  positions are refused at load with RunnerError.
- ``submit(prompt_tokens | ImagePrompt, SamplingOptions, shift=True, truncate=True) -> Sequence`` is thread-safe
  and returns at once; the request waits in a FIFO for a free slot. A prompt over ``num_ctx - 1`` tokens is cut
  as Ollama does (keep ``num_keep`` + BOS, drop the middle so about half the window is free; an image is kept or
  dropped whole), or raises ContextLengthError (Ollama's text, ``PROMPT_TOO_LONG``) when ``shift`` or
  ``truncate`` is False.
- A Sequence is iterated once (``for`` blocks the calling thread; ``async for`` awaits). Each Piece's ``text``
  holds whole UTF-8 characters and no part of a stop string; the last Piece has ``done=True``,
  ``done_reason`` ("stop": end-of-generation token or stop string; "length": ``num_predict`` reached or the
  context is full and cannot shift), the counts and ``context`` (prompt + generated tokens).
  ``prompt_eval_count`` counts only the tokens actually evaluated (image positions included): a slot that already
  holds a prefix of the prompt is reused. ``context`` leaves image positions out. ``cancel()`` (also triggered
  by leaving the iteration early) stops decoding within one token and frees the slot; a consumer still
  iterating gets RequestCancelledError.
- Sampling follows Ollama's options: temperature 0 is greedy; seed -1/None draws fresh entropy per request;
  a fixed seed repeats output; ``grammar`` (GBNF) constrains output; ``logprobs``/``top_logprobs`` attach
  Ollama-shaped entries computed from the raw logits.
- ``embed(texts, truncate=True) -> (raw vectors, total tokens)`` on any runner: one loaded with ``embedding=True``
  (an embedding model) has only its embedding context; a generation runner makes a second context on the same
  weights on its first ``embed`` (never a second load), so a model used for chat and embed is one runner. Too
  long with ``truncate=False`` raises ContextLengthError("the input length exceeds the context length").
- Scoring instead of sampling (``_score``): ``score(prompt_tokens, continuations) -> Sequence`` and
  ``score_all([(prompt, continuations), ...]) -> [Final]``; ``Final.scores`` holds each continuation's per-token
  log probabilities after the prompt (rerank's yes/no, a decision's options). Scoring prompts that wait together
  are read in one ``llama_decode`` of the runner's scoring context (a second context on the same weights, made on
  the first score, without flash attention, so a cached prefix plus a tail scores exactly as the whole prompt);
  continuations leave the slot's cache as the prompt alone; ``stats().score_cached_tokens`` is what each slot holds.
  ``rank(token_lists) -> [[float] * n_cls_out]`` on an embedding runner of a rank-pooling model
  (``runner.ranks``): a cross-encoder's classifier outputs; ``max_input_tokens`` is the longest input.
- Speculative decoding (``_spec``): ``LoadOptions(draft="small.gguf")`` loads a draft model with the same
  vocabulary (RunnerError otherwise) that guesses ``draft_num_predict`` tokens a step (0: off; unset, -1: as
  many as pay off, sized per step by ``DraftPlanner``);
  ``SamplingOptions(draft_ngram=N)`` guesses by n-gram lookup in the prompt and output instead. Guesses are
  checked in the shared decode step and kept while they equal the sampled token, so the tokens are those of
  plain decoding; ``Final``/the last Piece report ``draft_count`` and ``draft_accepted_count``, ``stats()`` the
  totals.
- ``stats() -> RunnerStats``; ``close()`` is idempotent and fails pending sequences with RunnerError.

Design notes (details in the private modules):

- One llama.cpp context per Runner with ``num_parallel`` sequence ids over a split (per-sequence) KV cache of
  ``num_ctx`` cells each; one decode thread owns it (``_loop``). Each step reads new prompts' chunks
  (<= ``num_batch`` tokens in all, except that one chunk is always read), each in its own ``llama_decode``,
  then decodes one token of every generating sequence in one ``llama_decode``; numpy-backed batches keep the per-token Python cost to a fraction of a millisecond.
  With a split cache llama.cpp puts only ascending, consecutive sequence ids in one graph evaluation, so rows
  go in slot order and a new request takes a slot next to the busy ones unless a long cached prefix elsewhere
  is worth more (scattered slots once cost up to a third of the 8-sequence throughput).
- Sequences decoded together give the same tokens as alone: ggml's CPU results depend on a batch's shape,
  so prompt chunks never share a batch with generation rows (a cached prompt's single last token is read as a
  row of the generation step) and weight repacking is off. This holds exactly
  for up to about seven concurrent sequences on quantized models (larger batches switch ggml kernels), for
  requests whose prompts are read in the same chunks as alone (reusing part of a cached prefix changes that).
  A prompt that is entirely cached evaluates only its last token (as llama-server does); its logits then differ
  from the first run's in the last bits, so a seeded sampled request (or ``SamplingOptions(exact_replay=True)``)
  re-reads the last chunk as it was read before instead, and repeats its output exactly.
- With ``LoadOptions(prompt_cache_bytes=N)`` a slot about to lose a long prefix saves its KV state to a host-RAM
  cache (LRU, ``N`` bytes; ``_cache``), and a later request sharing that prefix restores it instead of
  evaluating it again (llama.cpp's sequence state save/load; ``stats()`` counts hits and misses).
  ``prompt_cache_dir`` adds a disk tier (``_disk``): those states, and the slots' at ``close()``, are written to
  files there, and a later runner of the same model and KV-relevant options reads them back.
- An image is evaluated in its own step on the decode thread: the projector encodes it, then its embeddings are
  decoded into the job's sequence at its positions (non-causally when the projector asks), never split.
- Before ``llama_cpp`` loads, ``_openmp`` sets libgomp's wait policy (user values win), an idle decode thread
  exits (``_loop.IDLE_EXIT``) and embeddings are read on a thread that ends: an OpenMP team left on an idle
  thread would make libgomp throttle the busy model's threads.
- A grammar is applied as Ollama does: the sampled token is checked, and only a rejected one makes the
  grammar mask the whole vocabulary (``_sampling``).
"""

from . import _openmp  # noqa: F401  (first: its settings must be in place before llama_cpp loads libgomp)
from ._media import ImagePrompt
from ._runner import PROMPT_TOO_LONG, Runner, truncate_prompt
from ._stream import Sequence
from ._types import Final, LoadOptions, Piece, RunnerError, RunnerStats, SamplingOptions, TokenLogprob
from ._vocab import Vocabulary

__all__ = [
    "PROMPT_TOO_LONG",
    "Final",
    "ImagePrompt",
    "LoadOptions",
    "Piece",
    "Runner",
    "RunnerError",
    "RunnerStats",
    "SamplingOptions",
    "Sequence",
    "TokenLogprob",
    "Vocabulary",
    "truncate_prompt",
]
