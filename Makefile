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
## nothing-in-view threshold calibrated into the cards. small is the `small` profile fine-tuned 3 epochs with camera
## inputs of training images (`small_camera`); nano distils from the base small. Interrupted? Run it again: each
## training resumes from <out>/checkpoint (camera_inputs renders its 16,000 frames again, ~7 min).
model: setup
	$(PY)/fashion-edge train --profile small --out runs/small
	$(PY)/python -m fashion_edge.benchmarks.camera_inputs --out runs/camera_inputs.npz
	$(PY)/fashion-edge train --profile small_camera --init runs/small/model.keras \
	   --extra-inputs runs/camera_inputs.npz --out runs/small_camera
	$(MAKE) ship SIZE=small RUN=runs/small_camera
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
