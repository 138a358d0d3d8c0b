"""`fashion-edge bench`: is the int8 model worth it on this device?

models.py (what to measure) -> accuracy.py, latency.py (interleaved, in-process), memory.py (fresh process per
model: peak RSS, start-up; the Keras model's timings) -> run.py (one run, ratios to float32) -> report.py / plots.py
(bench.json per schema.py, bench.md, bench.html) ; device.py says what it ran on ; cli.py ties them together.
"""
