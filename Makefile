# Two entry points for a new machine (see README): `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean offscreen-gl

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hitit demo --out demo-output
	$(BIN)/hitit demo --course --out demo-output/course

# lint first: make test (and so CI, .ci/run) fails on a ruff finding before the suite runs
test: $(STAMP) offscreen-gl lint
	$(BIN)/python -m pytest -q Testing

# ruff with the rules in pyproject.toml (pyflakes, pycodestyle, bugbear, pyupgrade, numpy, docstrings) and its format.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Mesa's off-screen OpenGL, for the tests that draw plans with Slicer's displayable managers without a
# display. Installed with apt-get when missing and possible (as root on Debian); otherwise those tests
# skip and say why.
offscreen-gl:
	@ldconfig -p 2>/dev/null | grep -q libOSMesa || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libosmesa6) >/dev/null 2>&1; } || \
	  echo "note: libOSMesa (Debian: libosmesa6) is not installed: the off-screen rendering tests will skip"

bench: $(STAMP)
	$(BIN)/hitit bench

clean:
	rm -rf $(VENV) demo-output
