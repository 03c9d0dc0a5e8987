# paytrack: `make run` starts the whole local system, `make test` runs every test.
# Both create and fill a virtualenv under .venv on first use (only Python 3.11, git, make needed);
# `make lint` runs the quality gate (ruff, mypy and, with node and npm, ESLint).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install browser run lint test test-unit test-integration test-e2e bench package deploy clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check 'pip<26.3'
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

# The admin page is tested in Debian's chromium (driven by Playwright); CJK fonts make its Chinese
# render in the screenshots. As root they are installed when missing; otherwise this says how.
CHROMIUM ?= $(or $(PAYTRACK_CHROMIUM),/usr/bin/chromium)
export PAYTRACK_CHROMIUM := $(CHROMIUM)

browser:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium and CJK fonts for the admin page's browser test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	  else \
	    echo "the admin page's browser test needs Debian's chromium: as root, apt-get install -y chromium fonts-noto-cjk" \
	         "(or CHROMIUM=/path/to/chromium make test)" >&2; exit 1; \
	  fi; \
	fi
	@if ! fc-list 2>/dev/null | grep -qiE "cjk|wenquanyi"; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null; \
	  else echo "warning: no CJK font (apt-get install fonts-noto-cjk): Chinese shows as boxes in the screenshots" >&2; fi; \
	fi
	@test -x "$(CHROMIUM)"

run: install
	$(PY) -m local.stack

# The quality gate (settings in pyproject.toml): ruff's lint and format check and mypy over the
# Python, ESLint over the admin page's modules. ESLint is a dev tool from npm pinned in tools/eslint
# (needs node and npm; installed there by `npm ci` on first use), the page itself has no build step.
ESLINT_DIR   := tools/eslint
ESLINT_STAMP := $(ESLINT_DIR)/node_modules/.installed

$(ESLINT_STAMP): $(ESLINT_DIR)/package.json $(ESLINT_DIR)/package-lock.json
	npm ci --prefix $(ESLINT_DIR) --no-audit --no-fund --loglevel=error
	touch $(ESLINT_STAMP)

lint: install $(ESLINT_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(ESLINT_DIR)/node_modules/.bin/eslint --config $(ESLINT_DIR)/eslint.config.mjs chalicelib/static/*.js

# Test files are spread over every core (pytest-xdist); a file runs whole in one worker, so its
# module-scoped moto and local stack stay its own, and the files sharing a costly package- or
# session-scoped fixture (the e2e stack, the deploy recipe's packaging) run in one worker together
# (tests/conftest.py SHARED_UNITS). The longest are handed out first (LONGEST_FIRST there; xdist's
# reordering by test count is off). TEST_WORKERS=0 runs them in this process.
TEST_WORKERS ?= auto

test: install browser
	$(PY) -m pytest tests -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test-unit: install
	$(PY) -m pytest tests/unit -q

test-integration: install
	$(PY) -m pytest tests/integration -q

test-e2e: install browser
	$(PY) -m pytest tests/e2e -q

bench: install
	$(PY) -m bench.costs
	$(PY) -m bench.ingest
	$(PY) -m bench.anomalies
	$(PY) -m bench.reconcile
	$(PY) -m bench.admin
	$(PY) -m bench.local_aws
	$(PY) -m bench.flash_sale

# Deploying (infra/README.md): `make package STAGE=prod REGION=…` packages and lints, nothing sent
# to AWS; `make deploy STAGE=prod REGION=… [ALARM_EMAIL=…] [ALARM_URL=…] [ARTIFACTS_BUCKET=…]`
# packages, lints and deploys stack paytrack-<STAGE>. REGION may come from AWS_REGION /
# AWS_DEFAULT_REGION / the AWS profile instead; with none of them it stops and says so.
OUT ?= out
DEPLOY_ARGS = --stage "$(STAGE)" --out "$(OUT)" $(if $(REGION),--region "$(REGION)")

package: install
	@test -n "$(STAGE)" || { echo "STAGE=dev|prod is required" >&2; exit 2; }
	$(PY) -m infra.deploy $(DEPLOY_ARGS) --package-only

deploy: install
	@test -n "$(STAGE)" || { echo "STAGE=dev|prod is required" >&2; exit 2; }
	$(PY) -m infra.deploy $(DEPLOY_ARGS) $(if $(ALARM_EMAIL),--alarm-email "$(ALARM_EMAIL)") \
	    $(if $(ALARM_URL),--alarm-url "$(ALARM_URL)") $(if $(ARTIFACTS_BUCKET),--artifacts-bucket "$(ARTIFACTS_BUCKET)")

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache $(ESLINT_DIR)/node_modules
