# Every target creates .venv and installs the project into it when missing, so a fresh clone
# needs only python3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-quick fmt schema skill clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tfy-gateway demo

# One test process per core (at most 4), a test file kept in one process (its module fixtures start once).
test: $(STAMP)
	$(BIN)/python -m pytest --numprocesses auto --maxprocesses 4 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check server tests scripts setup.py
	$(BIN)/ruff format --check server tests scripts setup.py
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff check --fix server tests scripts
	$(BIN)/ruff format server tests scripts

# bench: every scripts/bench_*.py, bench_compare.py's full side-by-side run included (about 10 minutes;
# LiteLLM is installed on first use into ~/.cache/tfy-gateway/bench/litellm-venv). Figures, not thresholds.
bench: $(STAMP)
	$(BIN)/python scripts/bench.py

# bench-quick: c=32 and c=1, floor vs gateway with every example policy vs LiteLLM, under 2 minutes.
bench-quick: $(STAMP)
	$(BIN)/python scripts/bench_compare.py --quick

schema: $(STAMP)
	$(BIN)/tfy-gateway schema --markdown > references/manifest-schema.md
	$(PYTHON) scripts/build_skill.py

# skill/tfy-gateway/ holds copies of references/*.md and the skill's scripts (one source each, at the top).
skill:
	$(PYTHON) scripts/build_skill.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
