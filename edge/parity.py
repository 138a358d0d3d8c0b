"""`edge-classify parity IMAGE...`: the same images through every model variant present, side by side.

For each image: the top-1 of each variant and the largest probability difference between any two of them. For each
file: the quantization scheme it really uses, read from its tensors (not from its card, which could be wrong):

    full-int8      activations are integers (int8/uint8; "int16x8" for 16-bit activations)
    float16        weights stored as float16, dequantized at load, float32 arithmetic
    dynamic-range  weights stored as int8, activations float32 (quantized on the fly per op)
    float32        everything float32
(the same names as the card's quantization.scheme, which the report checks against).

TF-free: the Keras model joins through `fashion-edge parity --keras` (convert/parity_cli.py), which passes it in
as one more `Variant` with its own `score` function. Every variant sees the identical 28x28 input (one
preprocessing).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import click
import numpy as np

from ..errors import FashionEdgeError
from ..options import user_errors
from .evaluate import predict_scores
from .preprocess import INVERT_MODES, PREPROCESS_MODES, PreprocessConfig, parse_roi, to_model_input
from .registry import find_models, shipped_dir
from .runtime import import_runtime, resolve_runtime
from .sources import read_image

MODELS_DIR = shipped_dir()
_INTEGER = ("int8", "uint8", "int16")


@dataclass
class Variant:
    name: str  # a row of variants.TABLE, or "keras"
    path: Path
    scheme: str  # what the file really uses (see the module docstring)
    card: dict[str, Any] | None = None  # None for a model scored by `score` (Keras)
    score: Callable[[np.ndarray], np.ndarray] | None = None  # (N, 28, 28) uint8 -> (N, 10) probabilities

    @property
    def card_scheme(self) -> str | None:
        return (self.card or {}).get("quantization", {}).get("scheme")


def scheme_from_tensors(activation_dtypes: set[str], constant_dtypes: set[str]) -> str:
    """Pure: the quantization scheme from the dtypes of op outputs (activations) and of constant op inputs."""
    if "int16" in activation_dtypes:
        return "int16x8"
    if activation_dtypes & {"int8", "uint8"}:
        return "full-int8"
    if "float16" in constant_dtypes:
        return "float16"
    if constant_dtypes & set(_INTEGER):
        return "dynamic-range"
    return "float32"


def quantization_scheme(model_path: Path, runtime: str | None = None) -> str:
    """Read `model_path`'s graph (before any delegate rewrites it) and name the scheme it really uses.

    Activations = tensors some op writes; constants = op inputs nothing writes, except the model's own inputs.
    The model input is left out on purpose: a uint8 input in front of float ops is only a QUANTIZE away from float.
    """
    module = import_runtime(resolve_runtime(runtime))
    try:
        interpreter = module.Interpreter(model_path=str(model_path))
        ops = interpreter._get_ops_details()  # noqa: SLF001 - the only API exposing the graph; stable since TF 2.5
    except (ValueError, RuntimeError) as e:
        raise FashionEdgeError(f"{model_path} could not be read as a TFLite model: {e}") from e
    dtype = {t["index"]: np.dtype(t["dtype"]).name for t in interpreter.get_tensor_details()}
    written = {i for op in ops for i in op["outputs"]}
    read = {i for op in ops for i in op["inputs"] if i >= 0}  # -1 marks an optional input left out
    model_inputs = {d["index"] for d in interpreter.get_input_details()}
    # QUANTIZE ops convert the float/uint8 model input; their output says nothing about the arithmetic behind it
    activations = {dtype[i] for op in ops for i in op["outputs"] if op["op_name"] not in ("QUANTIZE", "DEQUANTIZE")}
    constants = {dtype[i] for i in read - written - model_inputs if i in dtype}
    return scheme_from_tensors(activations, constants)


def find_variants(models_dir: Path = MODELS_DIR) -> list[Variant]:
    """Every fashion_<variant>.tflite with its card in `models_dir` (variants.TABLE order), with its real scheme."""
    found = find_models(models_dir, purpose="nothing to compare (pass --models-dir DIR)")
    return [Variant(m.variant, m.path, quantization_scheme(m.path), m.card) for m in found]


def load_images(paths: list[Path], config: PreprocessConfig) -> tuple[list[Path], np.ndarray, dict[str, str]]:
    """Decode and preprocess each file once: (files that worked, their (N, 28, 28) inputs, {file: error})."""
    good, inputs, errors = [], [], {}
    for path in paths:
        if not Path(path).exists():
            errors[str(path)] = "not found"
            continue
        try:  # read_image bounds file type, size and declared dimensions before decoding
            inputs.append(to_model_input(read_image(Path(path)), config))
        except FashionEdgeError as e:
            errors[str(path)] = str(e)
            continue
        good.append(Path(path))
    return good, (np.stack(inputs) if inputs else np.zeros((0, 28, 28), np.uint8)), errors


def compare(
    images: list[Path], variants: list[Variant], config: PreprocessConfig | None = None, num_threads: int | None = None
) -> dict[str, Any]:
    """Run every variant on every image; the parity report as a dict (what `--json` prints)."""
    files, x, errors = load_images(images, config or PreprocessConfig())
    labels = next(v.card["labels"] for v in variants if v.card is not None)
    scores: dict[str, np.ndarray] = {}
    for v in variants:
        if not len(files):
            break
        if v.score is not None:
            scores[v.name] = v.score(x)
        else:
            scores[v.name] = predict_scores(v.path, v.card, x, num_threads=num_threads)
    rows = []
    for i, path in enumerate(files):
        pairs = [(a, b, float(np.max(np.abs(scores[a][i] - scores[b][i])))) for a, b in combinations(scores, 2)]
        worst = max(pairs, key=lambda p: p[2]) if pairs else (None, None, 0.0)
        top1 = {name: int(np.argmax(s[i])) for name, s in scores.items()}
        rows.append(
            {
                "image": str(path),
                "predictions": {
                    name: {"index": k, "label": labels[k], "score": round(float(scores[name][i][k]), 4)}
                    for name, k in top1.items()
                },
                "agree": len(set(top1.values())) == 1,
                "max_prob_diff": round(worst[2], 4),
                "max_prob_diff_between": [worst[0], worst[1]] if worst[0] else [],
            }
        )
    return {
        "variants": [
            {
                "name": v.name,
                "path": str(v.path),
                "scheme": v.scheme,
                "card_scheme": v.card_scheme,
                "size_bytes": v.path.stat().st_size,
            }
            for v in variants
        ],
        "images": rows,
        "errors": errors,
        "summary": {
            "images": len(rows),
            "all_agree": sum(r["agree"] for r in rows),
            "max_prob_diff": max((r["max_prob_diff"] for r in rows), default=0.0),
        },
    }


def format_text(report: dict[str, Any]) -> str:
    """The parity report as a table: one row per image, one column per variant."""
    names = [v["name"] for v in report["variants"]]
    lines = []
    for v in report["variants"]:
        mismatch = f"  (its card says {v['card_scheme']}!)" if v["card_scheme"] not in (None, v["scheme"]) else ""
        lines.append(f"{v['name']:<8} {v['scheme']:<13} {v['size_bytes']:>9,} B  {v['path']}{mismatch}")
    width = max([len(Path(r["image"]).name) for r in report["images"]] + [5])
    lines.append("")
    lines.append(f"{'image':<{width}}  " + "".join(f"{n:<19}" for n in names) + "max |dp|")
    for r in report["images"]:
        cells = "".join(f"{p['label'][:12]:<12} {p['score']:.2f}  " for p in r["predictions"].values())
        flag = "" if r["agree"] else "  top-1 differs"
        between = " vs ".join(r["max_prob_diff_between"])
        lines.append(f"{Path(r['image']).name:<{width}}  {cells}{r['max_prob_diff']:.3f} ({between}){flag}")
    for path, error in report["errors"].items():
        lines.append(f"{path}: {error}")
    s = report["summary"]
    lines.append(
        f"\n{s['all_agree']}/{s['images']} images: same top-1 in every variant; "
        f"largest probability difference {s['max_prob_diff']:.3f}"
    )
    return "\n".join(lines)


@dataclass(frozen=True)
class ParityOptions:
    """What `parity` was asked to do; the field names are the click parameter names."""

    images: tuple[Path, ...]
    models_dir: Path = MODELS_DIR
    preprocess: str = "auto"
    invert: str = "auto"
    roi: str | None = None
    num_threads: int | None = None
    as_json: bool = False


def run(options: ParityOptions, extra: Sequence[Variant] = ()) -> int:
    """Print the report for `options` (with `extra` variants first); return the exit code (1: an image unread)."""
    roi = parse_roi(options.roi) if options.roi else None
    config = PreprocessConfig(mode=options.preprocess, invert=options.invert, roi=roi)
    variants = [*extra, *find_variants(options.models_dir)]
    report = compare(list(options.images), variants, config, options.num_threads)
    click.echo(json.dumps(report, indent=2) if options.as_json else format_text(report))
    return 1 if report["errors"] else 0


@click.command("parity")
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--models-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=MODELS_DIR,
    show_default=True,
    help="Folder with fashion_<variant>.tflite + cards.",
)
@click.option("--preprocess", type=click.Choice(PREPROCESS_MODES), default="auto", show_default=True)
@click.option("--invert", type=click.Choice(INVERT_MODES), default="auto", show_default=True)
@click.option("--roi", help="x,y,w,h region of each image to use.")
@click.option("--threads", "num_threads", type=click.IntRange(min=1), help="Interpreter threads.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def parity_command(**params: Any) -> None:
    """Run IMAGES through every model variant present; per image: top-1 of each and the largest difference."""
    with user_errors():
        code = run(ParityOptions(**params))
    sys.exit(code)
