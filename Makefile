# Two commands from a fresh clone:  `make book` (set up + build the HTML book)
#                                   `make test` (set up + run every test)
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SLUGS  := $(notdir $(wildcard solutions/*))
# No progress-bar widgets in executed pages: the static book cannot run them.
export RNNKIT_PROGRESS := 0

.PHONY: setup book test test-fast release strip bench lock clean chromium sandbox postgres

setup: $(STAMP)

# Pinned set in requirements.txt (torch==2.13.0 is the CPU build); rnnkit itself editable.
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	# jsonschema imports rfc3987-syntax (pulled in by jupyter-events) if present, and building its
	# grammar costs ~3 s at every nbformat import, i.e. in every nbgrader process; nothing here
	# validates RFC 3987 IRIs, so it goes.
	$(BIN)/python -m pip uninstall --quiet -y rfc3987-syntax
	touch $@

# Headless Chromium for the page tests (Debian's package; needs root, as on CI)
# (with a CJK font, so the screenshots show the chapters' Chinese text, not boxes).
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
	@fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || { apt-get update -qq && apt-get install -y -qq fonts-noto-cjk >/dev/null; }

# The grading sandbox (`rnnkit grade` runs every submission's kernel in it): Debian's
# bubblewrap, plus setpriv and unshare from util-linux (needs root, as on CI).
sandbox:
	@command -v bwrap >/dev/null || { apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; }
	@command -v setpriv >/dev/null && command -v unshare >/dev/null || apt-get install -y -qq util-linux >/dev/null

# PostgreSQL, for the gradebook tests (tests/test_postgres.py starts a throwaway server of its
# own): Debian's package, whose initdb lives in /usr/lib/postgresql/<version>/bin (needs root).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || { apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; }

book: setup
	$(BIN)/python -m rnnkit.bookprep
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/jupyter-book build . --warningiserror --keep-going
	@echo "Book: $(CURDIR)/_build/html/index.html"

# Two pytest workers (pytest-xdist); conftest.py keeps each notebook, the book and the grading
# run on one worker and queues the longest first. `pytest -n 0 ...` runs serially.
XDIST := -n 2

test: setup chromium sandbox postgres
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m pytest $(XDIST)

test-fast: setup sandbox
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m pytest $(XDIST) -m "not slow"

# Regenerate the learners' notebooks in chapters/ from solutions/ (commit the result).
release: setup
	for s in $(SLUGS); do PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/nbgrader generate_assignment $$s --force --CourseDirectory.db_url=sqlite:///$$(mktemp -d)/release.db || exit 1; done

# Clear outputs from the source notebooks before committing them.
strip: setup
	$(BIN)/jupyter nbconvert --clear-output --inplace solutions/*/*.ipynb

bench: setup
	$(BIN)/python benchmarks/bench_lstm.py
	$(BIN)/python benchmarks/bench_course.py

lock: setup
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > requirements.txt

clean:
	rm -rf _build book _vendor submitted autograded feedback gradebook.db grades*.csv
