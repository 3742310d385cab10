# radflag: `make run` and `make test` do everything on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SHARED ?= ../shared
OUT    ?= out
JSON   ?=

.PHONY: install run test check fmt eval bench bench-listener-bound screenshots chaos soak fuzz clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/radflag run

test: $(STAMP)
	./scripts/install-system-deps
	$(BIN)/python -m pytest

check: $(STAMP)
	$(BIN)/ruff check browse fhir_out hl7 nlp worker followup accounts feedback resilience backfill fuzz tests bench
	$(BIN)/ruff format --check browse fhir_out hl7 nlp worker followup accounts feedback resilience backfill fuzz tests bench
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format browse fhir_out hl7 nlp worker followup accounts feedback resilience backfill fuzz tests bench
	$(BIN)/ruff check --fix browse fhir_out hl7 nlp worker followup accounts feedback resilience backfill fuzz tests bench

eval: $(STAMP)
	$(BIN)/radflag eval $(SHARED)/corpus/dev.jsonl \
	  --min status_acc=0.95 --min flag_f1=0.95 --min site_f1=0.90 \
	  --min etiology_f1=0.90 --min priority_acc=0.95
	$(BIN)/radflag eval $(SHARED)/corpus/dev_de.jsonl \
	  --min status_acc=0.93 --min flag_f1=0.93 --min site_f1=0.85 --min etiology_f1=0.85
	$(BIN)/radflag eval $(SHARED)/corpus/real_dev.jsonl \
	  --min status_acc=0.95 --min flag_f1=0.90

bench: $(STAMP)
	$(BIN)/python -m bench.nlp --corpus $(SHARED)/corpus/dev.jsonl --corpus-de $(SHARED)/corpus/dev_de.jsonl
	$(BIN)/python -m bench.hl7 --corpus $(SHARED)/corpus/dev.jsonl
	$(BIN)/python -m bench.service --corpus $(SHARED)/corpus/dev.jsonl $(if $(JSON),--json $(JSON))

# What any listener reaches on this machine against the listener goal (docs/throughput.md,
# "The twentieth pass"): radflag listen, a minimal Python and a compiled durable path.
bench-listener-bound: $(STAMP)
	$(BIN)/python -m bench.listener_bound --corpus $(SHARED)/corpus/dev.jsonl

chaos: $(STAMP)
	./scripts/install-system-deps
	$(BIN)/python -m tests.chaos

soak: $(STAMP)
	./scripts/install-system-deps
	$(BIN)/python -m tests.chaos.soak $(SOAK_ARGS)

# Atheris on hl7.mllp, hl7.header, hl7.extract and nlp.annotate (the suite runs each ~12 s).
FUZZ_SECONDS ?= 300
fuzz: $(STAMP)
	for target in mllp header extract annotate; do \
	  $(BIN)/python -m fuzz.run $$target --seconds $(FUZZ_SECONDS) --artifacts $(OUT)/fuzz || exit 1; \
	done

screenshots: $(STAMP)
	RADFLAG_SCREENSHOT_DIR=$(CURDIR)/docs $(BIN)/python -m pytest -q tests/web/test_worklist_browser.py -k screenshots

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache
