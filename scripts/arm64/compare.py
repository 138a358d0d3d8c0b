"""Compare x86-64 and arm64: classify.py outputs (top-1 must match; largest probability gap reported) and, when
given, the JSON Lines of `edge-classify --json` on the same files (the whole CLI: decode, preprocess, classify)."""

from __future__ import annotations

import json
import sys

import numpy as np


def main() -> int:
    sides = []
    for path in sys.argv[1:3]:
        with open(path) as f:
            sides.append(json.load(f))
    x86, arm = sides
    names = sorted(x86["results"])
    if names != sorted(arm["results"]):
        print("FAIL: the two runs classified different files")
        return 1
    mismatched = [n for n in names if x86["results"][n]["label"] != arm["results"][n]["label"]]
    gap = max(
        float(np.max(np.abs(np.subtract(x86["results"][n]["scores"], arm["results"][n]["scores"])))) for n in names
    )
    truth = np.array([int(n.split("_")[1].split(".")[0]) for n in names])
    for side in sides:
        accuracy = float(np.mean(np.array([side["results"][n]["label"] for n in names]) == truth))
        print(
            f"{side['machine']:8s} python {side['python']}  runtime {side['runtime']}  {side['versions']}  "
            f"accuracy {accuracy:.3f}  {side['ms_per_image']} ms/image"
        )
    print(f"images: {len(names)}  top-1 mismatches: {len(mismatched)}  largest probability difference: {gap:.6f}")
    if mismatched:
        print("FAIL: different top-1 for " + ", ".join(mismatched))
        return 1
    if len(sys.argv) > 4:
        cli = [_cli_labels(path) for path in sys.argv[3:5]]
        differ = sorted(n for n in cli[0] if cli[0][n] != cli[1].get(n))
        print(f"edge-classify --json: {len(cli[0])} vs {len(cli[1])} results, {len(differ)} labels differ")
        if differ or len(cli[0]) != len(cli[1]) or not cli[0]:
            print("FAIL: edge-classify differs on " + ", ".join(differ))
            return 1
    print("OK: arm64 predictions equal x86-64")
    return 0


def _cli_labels(path: str) -> dict[str, str]:
    """file name -> label from edge-classify's JSON Lines."""
    labels = {}
    with open(path) as f:
        for line in f:
            record = json.loads(line)
            labels[record["source"].rsplit("/", 1)[-1]] = record.get("label", "error: " + str(record.get("error")))
    return labels


if __name__ == "__main__":
    sys.exit(main())
