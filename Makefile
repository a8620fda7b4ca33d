# The two commands a newcomer needs: `make run` (the player on the bundled demo) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run headless test lint bench system-test-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	@$(BIN)/signage play

headless: $(STAMP)
	$(BIN)/signage play --headless --for 20 --screenshot-dir screenshots --screenshot-every 5

# OCR (Vietnamese) and a real X server for the tests: Debian packages, installed when missing.
system-test-deps:
	@if ! command -v tesseract >/dev/null || ! tesseract --list-langs 2>/dev/null | grep -qx vie || ! command -v Xvfb >/dev/null \
		|| ! command -v shellcheck >/dev/null || ! command -v systemd-analyze >/dev/null || ! command -v rsync >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				tesseract-ocr tesseract-ocr-vie xvfb shellcheck systemd rsync >/dev/null; \
		else echo "make: install tesseract-ocr, tesseract-ocr-vie, xvfb, shellcheck, systemd and rsync (Debian packages) for the tests"; fi; \
	fi

test: $(STAMP) system-test-deps
	SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy $(BIN)/pytest -q
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP) system-test-deps
	@if ! command -v ffmpeg >/dev/null || ! command -v curl >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg curl >/dev/null; \
		else echo "make: install ffmpeg and curl (Debian packages): the native peers of bench/media.py and bench/sync.py"; fi; \
	fi
	$(BIN)/python bench/render.py
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/sync.py
	$(BIN)/python bench/inbox.py
	$(BIN)/python bench/media.py
	$(BIN)/python bench/wear.py

clean:
	rm -rf $(VENV) .pytest_cache screenshots
