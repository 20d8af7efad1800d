# Headstart: `make demo` runs the offline cross-domain demo, `make test` runs the suite.
# Both create .venv and install everything first (pinned torch, core, every plugin in plugins/).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
TORCH  := torch==2.11.0 torchvision==0.26.0 torchaudio==2.11.0
PLUGINS := $(sort $(wildcard plugins/*/pyproject.toml))
NODEPS  := $(sort $(wildcard plugins/*/requirements-nodeps.txt))
APT     := $(sort $(wildcard plugins/*/apt-packages.txt))

.PHONY: install demo test test-fast bench lint clean system-packages

install: $(STAMP)

$(STAMP): Makefile core/pyproject.toml tests/toy_plugin/pyproject.toml $(PLUGINS) $(NODEPS) $(APT)
	@$(MAKE) --no-print-directory system-packages
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -e 'core[test,export,tensorboard]' $(foreach p,$(PLUGINS),-e '$(dir $(p))[test]') -e tests/toy_plugin
	$(foreach f,$(NODEPS),$(PIP) install --quiet --no-deps -r $(f) &&) true
	$(PY) -c "import torch, torchvision, torchaudio; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'torchaudio', torchaudio.__version__)"
	touch $(STAMP)

# Debian packages the plugins need (plugins/*/apt-packages.txt): installed when root, else named.
system-packages:
	@pkgs="$$(cat $(APT) /dev/null | grep -v '^#' | tr '\n' ' ')"; \
	missing=""; for p in $$pkgs; do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "Headstart needs these Debian packages:$$missing"; echo "Install them with: sudo apt-get install$$missing"; exit 1; fi; \
	fi

demo: install
	$(VENV)/bin/headstart compare examples/demo.yaml

test: install
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow"

bench: install
	$(PIP) install --quiet -e 'plugins/nlp[bench]'
	@for b in benchmarks/*.py; do echo "# $$b" >&2; $(PY) $$b || exit 1; done

lint: install
	$(VENV)/bin/ruff check core plugins tests benchmarks examples
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache
