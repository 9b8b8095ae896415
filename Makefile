# The two commands of the README: `make repro` (the whole pipeline on the built-in dataset,
# then the results pages written from its metrics) and `make test`; `make docs` builds the
# documentation site into site/. Each creates the virtual environment first when it is
# missing or stale.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.attrmer-installed

.PHONY: repro test docs package-check lint env

env: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

repro: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/dvc repro
	$(BIN)/attrmer report --pages docs/results

test: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -q
	$(BIN)/ruff check .

# Offline and strict: a broken link or anchor, a page missing from the nav or a docstring the
# API page cannot read fails the build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# The wheel, installed with its dependencies (the versions of requirements.txt) into a clean
# virtual environment outside the repository, and run from there: the CLI, the library and the
# renderer of the built-in data. Needs the package registry.
package-check: $(STAMP)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(BIN)/python -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir "$$tmp/dist" . && \
	grep -v '\[' requirements.txt > "$$tmp/constraints.txt" && \
	$(PYTHON) -m venv "$$tmp/venv" && \
	"$$tmp/venv/bin/python" -m pip install --quiet -c "$$tmp/constraints.txt" "$$tmp"/dist/attrmer-*.whl && \
	cd "$$tmp" && venv/bin/attrmer --help > /dev/null && \
	venv/bin/python -c "import attrmer, pathlib; assert pathlib.Path(attrmer.__file__).is_relative_to('$$tmp')" && \
	venv/bin/attrmer synth corpus --clips 2 --workers 1 && \
	echo "package-check: the wheel installs and runs in a clean environment"

lint: $(STAMP)
	$(BIN)/ruff check .
