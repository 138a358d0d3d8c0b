"""Write a class-balanced sample of the Fashion-MNIST test set as PNG files for the arm64 check.

File names carry the index and the true label (`00042_7.png`), so both sides classify the same bytes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2

from fashion_edge.data import load_fashion_mnist, stratified_sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--per-class", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = load_fashion_mnist(download=False)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for i in stratified_sample(data.y_test, args.per_class, args.seed):
        cv2.imwrite(str(args.out_dir / f"{int(i):05d}_{int(data.y_test[i])}.png"), data.x_test[i])


if __name__ == "__main__":
    main()
