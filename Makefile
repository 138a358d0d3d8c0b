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

## The shipped models: the full recipe (seeded) -> float32 + int8 with cards, into edge/models/small/.
model: setup
	$(PY)/fashion-edge train --profile full --out runs/full
	$(PY)/fashion-edge convert runs/full/model.keras --out runs/full/tflite
	cp runs/full/training.json runs/full/tflite/fashion_int8.tflite runs/full/tflite/fashion_int8.json \
	   runs/full/tflite/fashion_float32.tflite runs/full/tflite/fashion_float32.json edge/models/small/

clean:
	rm -rf runs .pytest_cache .ruff_cache .venv-edge
