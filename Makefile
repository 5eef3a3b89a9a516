# Every target bootstraps its own virtual environment, so a fresh clone needs only python3.
# .venv is installed from constraints.txt, the versions the tests passed with; `make lock`
# regenerates that file from the newest releases, and `make test-latest` tests against them
# in .venv-latest without touching the lock.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
LATEST := .venv-latest
# torch first and pinned: any looser spec pulls several GB of CUDA wheels
TORCH := torch==2.13.0
# one test process per core (each test runs torch on one thread), at most 4 to bound memory; a file's tests
# stay in one process so that its shared fixtures are built once (2 cores: 6-11 min, as fast as the shared machine is, against about 10 serially on a fast day)
PYTEST := -m pytest -q -n auto --maxprocesses 4 --dist loadfile

.PHONY: demo test test-latest lock install clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -c constraints.txt -e ".[all,dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/ecglab demo

test: $(STAMP)
	$(PY) $(PYTEST)

# The newest release of every dependency, as a user's `pip install ecglab` gets them today.
$(LATEST)/.installed-stamp: pyproject.toml
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install -q --upgrade pip
	$(LATEST)/bin/python -m pip install -q $(TORCH)
	# torch named again: an eager upgrade would otherwise replace the CPU wheel with the newest CUDA build (6 GB)
	$(LATEST)/bin/python -m pip install -q --upgrade --upgrade-strategy eager -e ".[all,dev]" $(TORCH)
	touch $@

# The demo (a third of the suite's time) is left to `make test`: it runs on the pinned set, as `make demo` does,
# and each part of it is tested on its own here too.
test-latest:
	rm -f $(LATEST)/.installed-stamp
	$(MAKE) $(LATEST)/.installed-stamp
	$(LATEST)/bin/python $(PYTEST) --deselect tests/test_demo.py::test_demo_reaches_its_quality_target_and_beats_the_baseline

# Pin what test-latest installed (run it first, and commit constraints.txt only if it passed).
lock: $(LATEST)/.installed-stamp
	{ echo "# The versions make test passed with; regenerate with make test-latest && make lock."; \
	  $(LATEST)/bin/python -m pip freeze --exclude-editable --exclude ecglab | sed 's/+cpu$$//'; } > constraints.txt
	@echo "constraints.txt: $$(wc -l < constraints.txt) pins"

clean:
	rm -rf $(VENV) $(LATEST) runs .pytest_cache
