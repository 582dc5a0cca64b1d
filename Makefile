# hilnic — the two README commands are `make demo` (main job: `hilnic run`) and `make test` (the tests).
VENV    ?= .venv
PY      := $(VENV)/bin/python
SIM     ?= icarus
WAVES   ?= 0
JOBS    ?= auto
export SIM WAVES

.PHONY: all demo demo-hw demo-model test test-unit test-rtl lint bench synth bootstrap clean

all: demo

bootstrap:
	@scripts/bootstrap.sh

# the main job: 256 KiB of TCP from an application through the stack, the driver and the RTL
# (SIM=icarus|verilator, WAVES=1; RUN_ARGS="--bytes 1M --proto udp ..." for more)
demo: bootstrap
	$(VENV)/bin/hilnic run $(RUN_ARGS)

# the same stack and driver on the behavioral NIC model (no simulator)
demo-model: bootstrap
	$(VENV)/bin/hilnic run --sim model $(RUN_ARGS)

# raw descriptors through the RTL, no stack: every frame checked on the wire
demo-hw: bootstrap
	$(VENV)/bin/hilnic demo

test: bootstrap
	$(PY) -m pytest -n $(JOBS) tests

# ruff, mypy, import-linter's layer contracts, no import cycles, the architecture doc, the register
# constants generated from hdl/nic/nic_regs.rdl (scripts/gen_regs.py --check), Verilator
# and Icarus lint of the RTL (all of it is also part of `make test`)
lint: bootstrap
	$(PY) -m pytest -n $(JOBS) tests/lint

test-unit: bootstrap
	$(PY) -m pytest -n $(JOBS) tests/unit

test-rtl: bootstrap
	$(PY) -m pytest -n $(JOBS) tests/rtl

# exits 1 when a target is missed; BENCH_ARGS="--report-only --quick" to explore
bench: bootstrap
	$(PY) -m hilnic.bench.all $(BENCH_ARGS)

# yosys on nic_top at DMA widths 64/128/256 for ECP5 and 7-series, nextpnr-ecp5 place and route
# (LFE5U-85F -8, 156.25 MHz): sim_build/synth/report.md (SYNTH_ARGS="--widths 64 --no-pnr ...")
synth: bootstrap
	@[ -f $(VENV)/.hilnic-synth ] && [ $(VENV)/.hilnic-synth -nt pyproject.toml ] \
		|| { $(PY) -m pip install -q -e ".[synth]" && touch $(VENV)/.hilnic-synth; }
	$(PY) scripts/synth.py $(SYNTH_ARGS)

clean:
	rm -rf sim_build .pytest_cache
