# Növbə: two commands for a fresh machine.
#   make run   set up and run the server for the default center (embedded SQLite)
#   make test  set up and run the whole test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test setup system-deps bench clean

$(BIN)/novbe: setup.cfg pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test,production]"
	touch $(BIN)/novbe

setup: $(BIN)/novbe

# Debian packages: Chromium for browser tests, socat for serial tests, espeak-ng for announcements,
# DejaVu fonts for the Azerbaijani raster lines on tickets. Skipped when already present.
system-deps:
	@missing=""; for p in chromium socat espeak-ng fonts-dejavu-core sox; do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; fi

run: setup
	$(BIN)/novbe run

test: setup system-deps
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python bench/issue_http.py
	$(BIN)/python bench/call_to_display.py

clean:
	rm -rf $(VENV) *.egg-info instance/novbe.db*
