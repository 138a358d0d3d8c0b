# fashion-edge: the jobs, each runnable on a fresh machine (scripts/setup.sh installs what is missing).
PY := .venv/bin
RUN ?= runs/demo

.PHONY: setup demo test test-edge lint model clean

setup:
	bash scripts/setup.sh

## The main job end to end: quick training -> convert -> quantization report -> benchmark -> classify frames.
demo: setup
	bash scripts/demo.sh $(RUN)

## Lint, then the whole test suite on the real data.
test:
	bash scripts/setup.sh --tests
	$(PY)/ruff check .
	$(PY)/ruff format --check .
	$(PY)/pytest -q

## The TF-free tests in an edge-only venv (.venv-edge: no train extra, as on a Pi), on the shipped models.
test-edge:
	bash scripts/setup.sh --edge
	.venv-edge/bin/pytest -q -m "not slow"

lint:
	$(PY)/ruff check . && $(PY)/ruff format --check .

## The shipped models (seeded): the small and nano recipes -> float32 + int8 with cards (+ training.json), into
## edge/models/<size>/, then the nothing-in-view threshold calibrated into the cards. Small first: nano distils from it.
## Interrupted? Run it again: each training resumes from runs/<size>/checkpoint.
SIZES := small nano
model: setup
	for size in $(SIZES); do \
	  $(PY)/fashion-edge train --profile $$size --out runs/$$size \
	    $$( [ $$size = nano ] && echo --teacher runs/small/model.keras ) && \
	  $(PY)/fashion-edge convert runs/$$size/model.keras --out runs/$$size/tflite --variants float32,int8 && \
	  mkdir -p edge/models/$$size && \
	  cp runs/$$size/training.json runs/$$size/tflite/fashion_int8.tflite runs/$$size/tflite/fashion_int8.json \
	     runs/$$size/tflite/fashion_float32.tflite runs/$$size/tflite/fashion_float32.json edge/models/$$size/ && \
	  $(PY)/python -m fashion_edge.benchmarks.calibrate_nothing --model-size $$size \
	  || exit 1; \
	done

clean:
	rm -rf runs .pytest_cache .ruff_cache .venv-edge
