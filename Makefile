# seqflow: the two commands a new user needs are `make demo` and `make test`.
# Every target sets up what it needs first (Debian packages, virtual
# environments from the committed locks); set-up is cached by stamp files and
# re-runs only when a lock changes.

SHELL := /bin/bash
VENV := .venv
STATE := .seqflow
SEQFLOW := $(VENV)/bin/seqflow
PYTEST := $(VENV)/bin/pytest
STAMP_SYSTEM := $(STATE)/.stamp-system

.PHONY: setup setup-mwaa demo test up e2e bench lock mwaa-lock clean help

help:
	@echo "make demo   set up, then run an E. coli sequencing run end to end through Airflow (local profile)"
	@echo "make test   set up, then run the full test suite"
	@echo "make up     run the local Airflow with its UI at http://localhost:8080 until Ctrl-C"
	@echo "make bench  run the benchmarks under bench/"
	@echo "make lock   re-compile requirements*.txt from requirements*.in"
	@echo "make mwaa-lock  re-compile mwaa/requirements-check.txt (the MWAA 3.0.6 check venv, mwaa/README.md)"
	@echo "make clean  remove the local profile's state ($(STATE)/) and the virtual environments"

$(STAMP_SYSTEM): scripts/setup-system.sh
	./scripts/setup-system.sh
	@mkdir -p $(STATE) && touch $@

setup: $(STAMP_SYSTEM)
	./scripts/setup-venv.sh

demo: setup
	$(SEQFLOW) demo

# the MWAA 3.0.6 compatibility check's venv (.venv-mwaa); only the tests need it (tests/mwaa)
setup-mwaa: setup
	./scripts/setup-mwaa-venv.sh

test: setup setup-mwaa
	$(PYTEST) -n 2 --dist loadgroup

up: setup
	$(SEQFLOW) up --port 8080

bench: setup
	bench/e2e_overhead
	bench/vcf_to_parquet

lock:
	python3 -m pip install -q "uv==0.13.8"
	python3 -m uv pip compile requirements.in --python-version 3.11 --python-platform x86_64-manylinux_2_28 -o requirements.txt --custom-compile-command "make lock"
	python3 -m uv pip compile requirements-lint.in --python-version 3.11 --python-platform x86_64-manylinux_2_28 -o requirements-lint.txt --custom-compile-command "make lock"

mwaa-lock:
	./scripts/setup-mwaa-venv.sh lock

clean:
	rm -rf $(STATE) $(VENV) $(VENV)-lint $(VENV)-mwaa
