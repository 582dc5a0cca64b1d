# hilnic — the two README commands are `make demo` (main job) and `make test` (the tests).
VENV    ?= .venv
PY      := $(VENV)/bin/python
SIM     ?= icarus
WAVES   ?= 0
JOBS    ?= auto
export SIM WAVES

.PHONY: all demo test test-unit test-rtl bench bootstrap clean

all: demo

bootstrap:
	@scripts/bootstrap.sh

demo: bootstrap
	$(VENV)/bin/hilnic demo

test: bootstrap
	$(PY) -m pytest -n $(JOBS) tests

test-unit: bootstrap
	$(PY) -m pytest -n $(JOBS) tests/unit

test-rtl: bootstrap
	$(PY) -m pytest -n $(JOBS) tests/rtl

bench: bootstrap
	$(PY) -m hilnic.bench.all

clean:
	rm -rf sim_build .pytest_cache
