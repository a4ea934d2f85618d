# The two commands of the README: `make demo` runs the main job, `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install demo test clean

$(BIN)/lassi-ee: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

install: $(BIN)/lassi-ee

# With an API key (environment or .env) a real model optimizes an example: a CUDA one where an NVIDIA
# GPU answers, the C++/OpenMP one elsewhere. Without a key the scripted C++ session runs.
demo: install
	@set -e; if [ -f .env ]; then set -a; . ./.env; set +a; fi; \
	if [ -n "$$OPENAI_API_KEY$$OPENAI_BASE_URL" ]; then \
	  if nvidia-smi -L >/dev/null 2>&1; then program=transfer-loop; else program=heat2d; fi; \
	  $(BIN)/lassi-ee optimize examples/programs/$$program --model "$${LASSI_MODEL:-openai:o3-mini}"; \
	else \
	  echo "No OPENAI_API_KEY: running the scripted demo (a recorded session; no model is called)."; \
	  $(BIN)/lassi-ee optimize examples/programs/heat2d --model scripted:examples/sessions/heat2d/session.json; \
	fi

# Lint first (ruff, configured in pyproject.toml); pytest exits 5 when it collects no test, which is not
# a failure of the code.
test: install
	@$(BIN)/ruff check -q .
	@$(BIN)/python -m pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then exit 0; else exit $$rc; fi

clean:
	rm -rf $(VENV) lassi-runs .pytest_cache *.egg-info
