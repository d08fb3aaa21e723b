# Every target creates .venv and installs relaysim (with its extras) when missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lab lint typecheck pytest clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,notebooks]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/relaysim policy check --main-cf scenarios/relay/main.cf \
	    --client 203.0.113.5 --helo test.external.com \
	    --from spammer@evil.com --rcpt victim@gmail.com --explain
	@echo
	@echo "# The same attempt against the seed's config with the 3.6 relay list emptied:"
	$(BIN)/relaysim policy check --main-cf scenarios/relay/main-norelay.cf \
	    --client 203.0.113.5 --helo test.external.com \
	    --from spammer@evil.com --rcpt victim@gmail.com
	@echo
	@echo "# The default scenario: the primary MX is down for 6 hours, the backup MX holds the mail."
	$(BIN)/relaysim run scenarios/mx-failover.yaml --out runs/mx-failover

# The classroom labs in Jupyter, on this machine only (http://127.0.0.1:8888).
lab: $(STAMP)
	$(BIN)/jupyter lab --ip=127.0.0.1 --no-browser --notebook-dir=notebooks

lint: $(STAMP)
	$(BIN)/ruff check sim tests benchmarks
	$(BIN)/ruff format --check sim tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest --nbmake --nbmake-timeout=120 tests notebooks

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
