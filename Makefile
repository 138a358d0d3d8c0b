# fashion-edge: the jobs, each runnable on a fresh machine (scripts/setup.sh installs what is missing).
PY := .venv/bin
RUN ?= runs/demo

.PHONY: setup demo test test-edge lint model ship clean

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

## The shipped models (seeded), float32 + int8 with cards (+ training.json) into edge/models/<size>/, the
## nothing-in-view threshold calibrated into the cards. Small first: nano distils from it. (small_camera, small
## fine-tuned with camera inputs, is measured in the README and not shipped.) Interrupted? Run it again: each training
## resumes from <out>/checkpoint.
model: setup
	$(PY)/fashion-edge train --profile small --out runs/small
	$(MAKE) ship SIZE=small RUN=runs/small
	$(PY)/fashion-edge train --profile nano --teacher runs/small/model.keras --out runs/nano
	$(MAKE) ship SIZE=nano RUN=runs/nano

ship:  # convert RUN/model.keras and ship it as SIZE (used by make model)
	$(PY)/fashion-edge convert $(RUN)/model.keras --out $(RUN)/tflite --variants float32,int8
	mkdir -p edge/models/$(SIZE)
	cp $(RUN)/training.json $(RUN)/tflite/fashion_int8.tflite $(RUN)/tflite/fashion_int8.json \
	   $(RUN)/tflite/fashion_float32.tflite $(RUN)/tflite/fashion_float32.json edge/models/$(SIZE)/
	$(PY)/python -m fashion_edge.benchmarks.calibrate_nothing --model-size $(SIZE)

clean:
	rm -rf runs .pytest_cache .ruff_cache .venv-edge
