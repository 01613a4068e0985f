# Növbə: two commands for a fresh machine.
#   make run   set up and run the server for one center (embedded SQLite):
#              make run [CENTER=fuzuli] [PORT=5000] [HOST=0.0.0.0 for the LAN]
#   make test  set up and run the whole test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
HOST ?= 127.0.0.1
CENTER ?=

.PHONY: run test setup system-deps bench clean

# The install's output goes to a log, so that what `make run` prints last (the first admin
# password and the device addresses) stays on the screen; the log's tail is shown if pip fails.
$(BIN)/novbe: setup.cfg pyproject.toml
	@echo "Setting up $(VENV): pip install -e '.[test,production]' (log: $(VENV)/install.log)"
	@$(PY) -m venv $(VENV)
	@{ $(BIN)/pip install --upgrade pip && $(BIN)/pip install -e ".[test,production]"; } >$(VENV)/install.log 2>&1 \
	  || { tail -n 40 $(VENV)/install.log >&2; echo "pip install failed: see $(VENV)/install.log" >&2; exit 1; }
	@touch $(BIN)/novbe

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
	$(BIN)/novbe run --host $(HOST) --port $(PORT)$(if $(CENTER), --config $(CENTER))

test: setup system-deps
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python bench/forecast.py
	$(BIN)/python bench/issue_http.py
	$(BIN)/python bench/board_clients.py
	$(BIN)/python bench/kiosk_print.py

clean:
	rm -rf $(VENV) *.egg-info
