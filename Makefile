# compactnn: every target creates what it needs (virtual environment, C kernels).
#   make            quick run of the main job on the embedded default (CPU, minutes; results/)
#   make test       the whole test suite (+ the sanitizer build of the kernels)
#   make bench      format benchmark (results/bench/)
#   make paper      the four paper grids, format study and report (data first; GPU recommended)
#   make lab        JupyterLab on notebooks/
#   make data       download the full data sets into data/ (needs network)
#   make env        create .venv and install the package (torch pinned by constraints.txt)
#   make build      compile the C kernels (lib/compactnn/_cnative*.so)
#   make test-py    the Python test suite only (pytest -q)
#   make test-asan  the kernel tests against an AddressSanitizer/UBSan build
#   make bench-full the full format benchmark grid (results/bench/; long)
#   make report     rebuild tables and figures from the records in results/
#   make help       this list
#   make clean      remove build outputs (keeps .venv, data/ and results/)
#   make distclean  clean, and remove .venv and the egg-info

PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip
STAMP   := $(VENV)/.stamp-deps
NATIVE  := build/.stamp-native
ASAN    := build/.stamp-asan
CSRC    := $(wildcard csrc/*.c csrc/*.h)
NOTEBOOKS_OUT := results/notebooks
# Benchmarks compare against the machine's real BLAS kernel: a forced
# OPENBLAS_CORETYPE would slow NumPy down, so it is lifted for `make bench` only.
BENCH_ENV := env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE

.PHONY: all quick env build test test-py test-asan bench bench-full paper report lab data clean distclean help

all: quick

help:
	@sed -n '2,16p' Makefile

env: $(STAMP)

# --no-compile: byte-compiling every installed module (torch, jupyter, ...) takes a
# minute of the two-minute install; Python compiles what it imports, once, instead.
$(STAMP): pyproject.toml setup.py constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --no-compile --upgrade pip "setuptools>=64" wheel "cffi>=1.15"
	$(PIP) install --quiet --no-compile --no-build-isolation -c constraints.txt -e '.[test]'
	rm -f lib/compactnn/_cnative*.so  # the kernels are built by the rule below
	touch $@

build: $(NATIVE)

$(NATIVE): $(STAMP) $(CSRC) lib/compactnn/_build_native.py
	mkdir -p build
	$(PY) lib/compactnn/_build_native.py
	touch $@

$(ASAN): $(STAMP) $(CSRC) lib/compactnn/_build_native.py
	mkdir -p build
	$(PY) lib/compactnn/_build_native.py --asan
	touch $@

quick: $(NATIVE)
	$(PY) -m compactnn quick

test: test-py test-asan

test-py: $(NATIVE)
	$(PY) -m pytest -q

# The kernel tests again, against the kernels built with AddressSanitizer and
# UBSan.  Skipped (with a message) where the compiler cannot build them.
test-asan: $(NATIVE)
	@if echo 'int main(void){return 0;}' | $${CC:-cc} -fsanitize=address,undefined -x c - -o build/.asan-probe 2>/dev/null; then \
	  $(MAKE) --no-print-directory $(ASAN) && \
	  LD_PRELOAD="$$($${CC:-cc} -print-file-name=libasan.so) $$($${CC:-cc} -print-file-name=libubsan.so)" \
	  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  COMPACTNN_NATIVE=asan $(PY) -m pytest -q -m kernel -p no:cacheprovider tests/formats tests/test_huffman.py tests/test_native.py; \
	else echo "test-asan: compiler lacks -fsanitize=address,undefined; skipped"; fi

bench: $(NATIVE)
	$(BENCH_ENV) $(PY) -m compactnn.bench --quick

bench-full: $(NATIVE)
	$(BENCH_ENV) $(PY) -m compactnn.bench

# The data sets first (downloaded once, verified after); then the grids, on the
# GPU when torch sees one, on the Dask cluster at $$DASK_SCHEDULER_ADDRESS if set.
paper: $(NATIVE) data
	$(PY) -m compactnn paper

report: $(NATIVE)
	$(PY) -m compactnn report

lab: $(NATIVE)
	$(PIP) install --quiet 'jupyterlab>=4.0'
	$(VENV)/bin/jupyter lab notebooks/

data: $(STAMP)
	$(PY) -m compactnn data --all

clean:
	rm -rf build lib/compactnn/_cnative*.so lib/compactnn/_cnative*.c .pytest_cache .hypothesis

distclean: clean
	rm -rf $(VENV) lib/*.egg-info
