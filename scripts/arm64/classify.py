"""Classify every PNG in a folder with a `.tflite` + card and print JSON: what the arm64 check compares.

Runs on both sides (x86-64 host and the emulated arm64 root) with the installed fashion-edge: OpenCV decodes the
files, the edge runtime (ai-edge-litert) runs the model. Output: {"machine", "runtime", "versions", "results":
{file: {"label", "scores"}}}. Also reports the mean time per image, for scale only (emulation is slow).
"""

from __future__ import annotations

import json
import platform
import sys
import time
from importlib.metadata import version
from pathlib import Path

import cv2
import numpy as np

from fashion_edge.edge.card import read_card, verify_model_file
from fashion_edge.edge.evaluate import predict_scores
from fashion_edge.edge.runtime import resolve_runtime


def main() -> None:
    model_path, image_dir = Path(sys.argv[1]), Path(sys.argv[2])
    card = read_card(model_path.with_suffix(".json"))
    verify_model_file(model_path, card)
    files = sorted(image_dir.glob("*.png"))
    images = np.stack([cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in files])
    start = time.perf_counter()
    scores = predict_scores(model_path, card, images, batch_size=1)  # one image per invoke, as on a camera
    ms_per_image = (time.perf_counter() - start) * 1000 / len(files)
    results = {
        f.name: {"label": int(np.argmax(s)), "scores": [round(float(v), 6) for v in s]}
        for f, s in zip(files, scores, strict=True)
    }
    print(
        json.dumps(
            {
                "machine": platform.machine(),
                "python": platform.python_version(),
                "runtime": resolve_runtime(),
                "versions": {
                    "ai-edge-litert": version("ai-edge-litert"),
                    "numpy": np.__version__,
                    "opencv": cv2.__version__,
                },
                "ms_per_image": round(ms_per_image, 2),
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
