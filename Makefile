# The two commands a newcomer needs: `make run` (the player on the bundled demo) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run headless test lint bench soak system-test-deps test-postgres clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,hub]'
	touch $(STAMP)

run: $(STAMP)
	@$(BIN)/signage play

headless: $(STAMP)
	$(BIN)/signage play --headless --for 20 --screenshot-dir screenshots --screenshot-every 5

# The tests' Debian packages, installed when missing (as root): OCR (Vietnamese) and a real X server for the
# player; PostgreSQL and Chromium (driven by Playwright, never `playwright install`) for the hub; a font for Vietnamese;
# LibreOffice (no GUI) turning .doc, .odt, .rtf, slides and sheets into PDF; ffmpeg making phone and camera clips;
# xfsprogs for a copy-on-write filesystem where media are cloned, not copied.
system-test-deps:
	@if ! command -v tesseract >/dev/null || ! tesseract --list-langs 2>/dev/null | grep -qx vie || ! command -v Xvfb >/dev/null \
		|| ! command -v shellcheck >/dev/null || ! command -v systemd-analyze >/dev/null || ! command -v rsync >/dev/null \
		|| ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || ! command -v chromium >/dev/null \
		|| [ ! -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] \
		|| ! ls /usr/lib/chromium/locales/vi.pak >/dev/null 2>&1 || ! command -v soffice >/dev/null \
		|| ! command -v ffmpeg >/dev/null || ! command -v mkfs.xfs >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				tesseract-ocr tesseract-ocr-vie xvfb shellcheck systemd rsync postgresql chromium chromium-l10n fonts-dejavu-core \
				libreoffice-writer-nogui libreoffice-impress-nogui libreoffice-calc-nogui ffmpeg xfsprogs >/dev/null; \
		else echo "make: install tesseract-ocr, tesseract-ocr-vie, xvfb, shellcheck, systemd, rsync, postgresql, chromium" \
			"chromium-l10n, fonts-dejavu-core, libreoffice-writer-nogui, -impress-nogui, -calc-nogui, ffmpeg and xfsprogs (Debian packages) for the tests"; fi; \
	fi

# The PostgreSQL the hub tests use (tests/conftest.py, postgres_url): a running cluster on port 5432 with the role
# signage (password signage, LOGIN CREATEDB) owning the database signage_test. As root on Debian: started or
# created when missing, and nothing else. Otherwise one line says what to set up, and those tests skip.
PSQL := runuser -u postgres -- psql -X -q -t -A -v ON_ERROR_STOP=1 -c
test-postgres: system-test-deps
	@if [ "$$(id -u)" != 0 ] || ! command -v pg_lsclusters >/dev/null; then \
		pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null \
			|| echo "make: the PostgreSQL tests skip: start PostgreSQL on 127.0.0.1:5432 with a role signage (password signage," \
				"LOGIN CREATEDB) owning a database signage_test, or run make test as root on Debian"; \
		exit 0; \
	fi; \
	cd / && set -e; \
	cluster=$$(pg_lsclusters -h | awk '$$3 == 5432 { print $$1, $$2, $$4; exit }'); \
	if [ -z "$$cluster" ]; then \
		version=$$(ls /usr/lib/postgresql | sort -V | tail -n 1); \
		echo "make: creating the PostgreSQL $$version cluster main on port 5432"; \
		pg_createcluster --port 5432 --start "$$version" main >/dev/null; \
	else \
		set -- $$cluster; \
		[ "$$3" = online ] || { echo "make: starting the PostgreSQL $$1 cluster $$2"; pg_ctlcluster "$$1" "$$2" start; }; \
	fi; \
	case "$$($(PSQL) "SELECT rolcanlogin AND rolcreatedb FROM pg_roles WHERE rolname = 'signage'")" in \
		t) ;; \
		f) $(PSQL) "ALTER ROLE signage LOGIN CREATEDB" ;; \
		*) $(PSQL) "CREATE ROLE signage LOGIN CREATEDB PASSWORD 'signage'" ;; \
	esac; \
	[ -n "$$($(PSQL) "SELECT 1 FROM pg_database WHERE datname = 'signage_test'")" ] \
		|| $(PSQL) "CREATE DATABASE signage_test OWNER signage"

test: $(STAMP) system-test-deps test-postgres
	SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy $(BIN)/pytest -q
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP) system-test-deps test-postgres
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
	$(BIN)/python bench/hub.py
	$(BIN)/python bench/source.py

# Memory, descriptors and threads over a day's worth of turns (50 minutes; not part of `make bench`).
soak: $(STAMP)
	$(BIN)/python bench/soak.py

clean:
	rm -rf $(VENV) .pytest_cache screenshots
