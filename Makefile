# hermitnet: one install path for everything.
#   make setup   install and start what the lab needs (Ansible playbook on this machine)
#   make demo    setup, then run scenarios/baseline.yaml
#   make test    setup, then the whole test suite (PYTEST_ARGS="..." passes options to pytest)
#   make lint    setup, then ruff and ansible-lint
#   make clean   remove what runs left behind (hermitnet clean)
#   make bench   every benchmark in bench/, each figure beside its same-run baseline
# Run as root (sudo make ...). Debian 12, Ubuntu 22.04 and Ubuntu 24.04 are supported.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

REPO := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
ANSIBLE_VENV := $(REPO)/.ansible-venv
VENV := $(REPO)/.venv
SCENARIO ?= scenarios/baseline.yaml
PYTEST_ARGS ?=
ANSIBLE_ARGS ?=
BOOTSTRAP_ARGS ?=
BENCH_ARGS ?=

# Ansible from .ansible-venv/, its own tools first on PATH, UTF-8 whatever the caller's locale.
ANSIBLE_ENV := PATH="$(ANSIBLE_VENV)/bin:$$PATH" LC_ALL=C.UTF-8 LANG=C.UTF-8 \
	ANSIBLE_NOCOWS=1 ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_FORCE_COLOR=0

.PHONY: help setup demo test lint clean bench bootstrap check-root vm-test

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'
	@echo '  (run as root; make test PYTEST_ARGS="-m \"not vm\"" passes options to pytest)'

check-root:
	@if [ "$$(id -u)" -ne 0 ]; then \
	  echo "hermitnet: this target installs system packages and builds networks: run it as root (sudo make $(MAKECMDGOALS))." >&2; \
	  exit 1; \
	fi

bootstrap: check-root ## Install python3-venv if missing, then ansible-core into .ansible-venv/
	@flock $(REPO)/Makefile $(REPO)/scripts/bootstrap.sh $(BOOTSTRAP_ARGS)

# Two setups at once (two shells, or a test while a setup runs) would pip-install into the same
# venv together: they take turns on a lock held on the Makefile itself (flock, util-linux).
setup: bootstrap ## Install and start everything the lab needs (idempotent)
	cd $(REPO) && $(ANSIBLE_ENV) flock $(REPO)/Makefile \
	  $(ANSIBLE_VENV)/bin/ansible-playbook -i localhost, -c local playbooks/site.yml $(ANSIBLE_ARGS)

demo: setup ## Setup, then run the baseline scenario
	cd $(REPO) && $(VENV)/bin/hermitnet run $(SCENARIO)

# The test suite also needs the lab-VM and Vagrant tools (role test_tools), and ansible-lint.
test: ANSIBLE_ARGS += -e hermitnet_test_tools=true
test: BOOTSTRAP_ARGS += --with-lint
test: setup ## Setup (with the test tools), then run the whole test suite
	cd $(REPO) && $(VENV)/bin/python -m pytest tests $(PYTEST_ARGS)

lint: BOOTSTRAP_ARGS += --with-lint
lint: setup ## Setup, then ruff and ansible-lint (both run; fails if either fails)
	cd $(REPO) && rc=0; \
	  $(VENV)/bin/ruff check . || rc=1; \
	  $(ANSIBLE_ENV) $(ANSIBLE_VENV)/bin/ansible-lint playbooks/ || rc=1; \
	  exit $$rc

clean: check-root ## Remove what runs left behind (namespaces, bridges, processes of hermitnet runs)
	@if [ ! -x $(VENV)/bin/hermitnet ]; then echo "hermitnet: nothing installed yet (make setup)"; exit 0; fi
	cd $(REPO) && $(VENV)/bin/hermitnet clean

# Benchmarks build emulated networks (each under the emulation lock) and take minutes; they are
# not tests. BENCH_ARGS="--quick" for shorter runs, "--only policy_change" for one of them.
bench: setup ## Setup, then every benchmark in bench/ (figure, same-run baseline, ratio)
	cd $(REPO) && PYTHONPATH=$(REPO) $(VENV)/bin/python bench/run.py $(BENCH_ARGS)

vm-test: setup ## Only the lab-VM proof: boot a VM under QEMU, make setup + baseline inside it
	cd $(REPO) && $(VENV)/bin/python -m pytest tests/provisioning/test_lab_vm.py -m vm -s $(PYTEST_ARGS)
