"""The quantization accuracy report: what int8 costs against float, per variant, per class, per layer.

`build_report` evaluates every `fashion_*.tflite` (+ card) in a folder on the same test images and writes
report.json (all numbers), report.md (tables, PNGs beside it) and report.html (self-contained, PNGs embedded).
The per-layer section needs the source Keras model (QuantizationDebugger converts from it).
"""

from __future__ import annotations

import html
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..artifacts import atomic_write_bytes, atomic_write_json, atomic_write_text, ensure_writable_dir, sha256_file
from ..data import CLASS_NAMES, load_fashion_mnist
from ..edge.evaluate import predict_scores
from ..edge.registry import Model, find_models
from ..errors import FashionEdgeError
from ..render import figure_png, html_image, html_page, html_table, kb, markdown_table

# The shipped recipe's targets: int8 close to float, agreeing with it, and small.
TARGETS = {"max_int8_drop_pp": 0.3, "min_int8_agreement": 0.993, "max_int8_size_bytes": 150_000}
MAX_FLIP_EXAMPLES = 48
FIGURE_DPI = 110
DEFAULT_DEBUG_IMAGES = 500
DEFAULT_DENYLIST_LAYERS = 3
SELECTIVE_WORTH_PP = 0.3  # the int8 drop target's size: a smaller gain does not change what we ship

ProgressBar = Callable[[str, int], Any]  # (label, total) -> context manager with .update(n), like click.progressbar


@dataclass
class VariantEval:
    variant: str
    path: Path
    card: dict[str, Any]
    predictions: np.ndarray  # (N,) argmax class per test image

    @property
    def size_bytes(self) -> int:
        return int(self.card["size_bytes"])


@dataclass
class Figures:
    png: dict[str, bytes] = field(default_factory=dict)  # file name -> PNG bytes


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """counts[true, predicted]."""
    return np.bincount(labels * num_classes + predictions, minlength=num_classes**2).reshape(num_classes, num_classes)


def per_class_accuracy(labels: np.ndarray, predictions: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Recall per class: the fraction of each class's images predicted as that class."""
    cm = confusion_matrix(labels, predictions, num_classes)
    return np.diag(cm) / np.maximum(cm.sum(axis=1), 1)


# --- figures (matplotlib's object API: no pyplot global state, Agg canvas) ----------------------------------------


def confusion_figure(matrices: dict[str, np.ndarray]) -> bytes:
    """One panel per variant plus, for two, their difference (second minus first) where the models disagree."""
    from matplotlib.figure import Figure

    names = list(matrices)
    panels = [(n, matrices[n], "Blues") for n in names]
    if len(names) == 2:
        panels.append((f"{names[1]} - {names[0]}", matrices[names[1]] - matrices[names[0]], "RdBu_r"))
    fig = Figure(figsize=(6.4 * len(panels), 6.0), layout="constrained")
    names = list(CLASS_NAMES)
    for ax, (title, cm, cmap) in zip(fig.subplots(1, len(panels)), panels, strict=True):
        lim = max(1, int(np.abs(cm).max()))
        ax.imshow(cm, cmap=cmap, vmin=-lim if cmap == "RdBu_r" else 0, vmax=lim)
        for (i, j), v in np.ndenumerate(cm):
            if v:
                ax.text(
                    j, i, str(v), ha="center", va="center", fontsize=8, color="white" if abs(v) > 0.6 * lim else "black"
                )
        ax.set_title(title, fontsize=12)
        ax.set_xticks(range(10), names, rotation=60, ha="right", fontsize=9)
        ax.set_yticks(range(10), names, fontsize=9)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
    return figure_png(fig, dpi=FIGURE_DPI)


def flips_figure(images: np.ndarray, labels: np.ndarray, float_pred: np.ndarray, int8_pred: np.ndarray) -> bytes:
    """A grid of the test images whose top-1 differs between float and int8; title: true, float -> int8."""
    from matplotlib.figure import Figure

    cols = 8
    rows = max(1, int(np.ceil(len(images) / cols)))
    fig = Figure(figsize=(cols * 1.75, rows * 2.05))
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, img, y, f, q in zip(axes, images, labels, float_pred, int8_pred, strict=False):
        ax.imshow(img, cmap="gray", vmin=0, vmax=255)
        colour = "green" if q == y else ("red" if f == y else "black")
        ax.set_title(f"true {CLASS_NAMES[y]}\nf32 {CLASS_NAMES[f]}\nint8 {CLASS_NAMES[q]}", fontsize=7.5, color=colour)
    return figure_png(fig, dpi=FIGURE_DPI)


def layer_figure(layers: list[dict[str, Any]], noise: float) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 0.42 * len(layers) + 1.2))
    ax = fig.subplots()
    names = [f"{i}: {row['op']}" for i, row in enumerate(layers)]
    ax.barh(names[::-1], [row["rmse_over_scale"] for row in layers][::-1], color="#4a78b5")
    ax.axvline(noise, color="grey", linestyle="--", label=f"pure rounding noise ({noise:.2f})")
    ax.set_xlabel("RMSE / scale (quantization steps)")
    ax.legend(loc="lower right", fontsize=8)
    return figure_png(fig, dpi=FIGURE_DPI)


# --- the report ---------------------------------------------------------------------------------------------------


def _variant_row(e: VariantEval, labels: np.ndarray, reference: VariantEval | None) -> dict[str, Any]:
    quantization = e.card["quantization"]
    agreement = None if reference is None else round(float(np.mean(e.predictions == reference.predictions)), 5)
    return {
        "variant": e.variant,
        "file": e.path.name,
        "size_bytes": e.size_bytes,
        "scheme": quantization["scheme"],
        "method": quantization["method"],
        "input_dtype": e.card["input"]["dtype"],
        "test_accuracy": round(float(np.mean(e.predictions == labels)), 5),
        "agreement_with_float32": agreement,
        "card_test_accuracy": e.card.get("metrics", {}).get("test_accuracy"),
        "qat": quantization.get("qat"),
    }


def _evaluate(models: list[Model], images, progress_bar: ProgressBar) -> list[VariantEval]:
    evals = []
    for m in models:
        with progress_bar(f"evaluating {m.variant:<8}", len(images)) as bar:
            scores = predict_scores(m.path, m.card, images, progress=bar.update)
        evals.append(VariantEval(m.variant, m.path, m.card, np.argmax(scores, axis=1)))
    return evals


def _null_bar(label: str, total: int):
    from contextlib import nullcontext
    from types import SimpleNamespace

    return nullcontext(SimpleNamespace(update=lambda n: None))


def _find_keras(models_dir: Path, keras_path: Path | None, source_sha: str | None) -> tuple[Path | None, str | None]:
    """The source Keras model: --keras if given, else a model.keras beside or above the models with the right hash."""
    if keras_path is not None:
        if not Path(keras_path).is_file():
            raise FashionEdgeError(f"--keras {keras_path} not found")
        if source_sha and sha256_file(keras_path) != source_sha:
            raise FashionEdgeError(
                f"--keras {keras_path} is not the model these .tflite files were converted from "
                "(source_model_sha256 differs); pass the model.keras given to `fashion-edge convert`"
            )
        return Path(keras_path), None
    for candidate in (models_dir / "model.keras", models_dir.parent / "model.keras"):
        if candidate.is_file() and source_sha and sha256_file(candidate) == source_sha:
            return candidate, None
    return None, "pass --keras MODEL.keras (the model given to `fashion-edge convert`) for per-layer errors"


def _layer_section(keras_path, int8_card, data, images, labels, float_pred, debug_images, denylist_layers, bar):
    from ..train.keras_io import load_keras_model
    from .calibration import calibration_set
    from .layer_debug import ROUNDING_NOISE_RMSE_OVER_SCALE, layer_errors, selective_quantization

    model = load_keras_model(keras_path)
    cal = int8_card["quantization"].get("calibration") or {"images": 500, "seed": 0}
    calibration = calibration_set(data.x_train, data.y_train, cal["images"], cal["seed"])  # as the int8 model's
    layers = layer_errors(model, calibration.images, data.x_test[:debug_images])
    section: dict[str, Any] = {
        "keras_model": str(keras_path),
        "debug_images": int(min(debug_images, len(data.x_test))),
        "rounding_noise_rmse_over_scale": ROUNDING_NOISE_RMSE_OVER_SCALE,
        "layers": [layer.to_dict() for layer in layers],
    }
    worst = layers[:denylist_layers]
    with bar("selective quantization", len(images) * (len(worst) + 1)) as b:
        selective = selective_quantization(model, calibration.images, worst, images, float_pred, labels, b.update)
    section["selective"] = [s.to_dict() for s in selective]
    base = selective[0]
    # "Best" = closest to the float model (agreement), accuracy breaking ties: that is what the targets measure.
    best = max(selective[1:], key=lambda s: (s.agreement_with_float, s.test_accuracy), default=None)
    if best is not None:
        accuracy_pp = 100 * (best.test_accuracy - base.test_accuracy)
        agreement_pp = 100 * (best.agreement_with_float - base.agreement_with_float)
        worth = accuracy_pp >= SELECTIVE_WORTH_PP or agreement_pp >= SELECTIVE_WORTH_PP
        section["selective_best"] = {
            "float_layers": len(best.float_layers),
            "accuracy_gain_pp": round(accuracy_pp, 3),
            "agreement_gain_pp": round(agreement_pp, 3),
            "worth_offering": worth,
        }
        section["selective_verdict"] = (
            f"Best: {len(best.float_layers)} layer(s) in float ({', '.join(best.float_ops)}): test accuracy "
            f"{accuracy_pp:+.2f} pp, agreement with float32 {agreement_pp:+.2f} pp, "
            f"{best.size_bytes - base.size_bytes:+d} bytes, and those ops then run float kernels (slower on int8-only "
            "accelerators). "
            + (
                f"Worth considering (a gain of at least {SELECTIVE_WORTH_PP} pp)."
                if worth
                else f"Not worth it (both gains below {SELECTIVE_WORTH_PP} pp): full int8 stays the default."
            )
        )
    return section


def build_report(
    models_dir: Path,
    out_dir: Path,
    *,
    keras_path: Path | None = None,
    limit: int | None = None,
    data_dir: Path | None = None,
    debug_images: int = DEFAULT_DEBUG_IMAGES,
    denylist_layers: int = DEFAULT_DENYLIST_LAYERS,
    progress_bar: ProgressBar | None = None,
) -> dict[str, Any]:
    """Evaluate the models in `models_dir` and write report.{json,md,html} + PNGs into `out_dir`; return the JSON."""
    models_dir = Path(models_dir)
    models = find_models(models_dir, purpose="nothing to report")
    out_dir = ensure_writable_dir(Path(out_dir))
    bar = progress_bar or _null_bar
    data = load_fashion_mnist(data_dir)
    images, labels = data.x_test[:limit], data.y_test[:limit].astype(np.int64)
    evals = _evaluate(models, images, bar)
    by_variant = {e.variant: e for e in evals}
    reference = by_variant.get("float32")

    report: dict[str, Any] = {
        "title": "fashion-edge quantization accuracy report",
        "created_by": {
            "tool": f"fashion-edge {__version__}",
            "python": platform.python_version(),
            "machine": platform.machine(),
        },
        "models_dir": str(models_dir),
        "test_images": int(len(images)),
        "reference": "float32" if reference else None,
        "targets": TARGETS,
        "variants": [_variant_row(e, labels, reference) for e in evals],
        "source_models": sorted({str(e.card.get("source_model_sha256")) for e in evals}),
    }
    figures = Figures()
    int8 = by_variant.get("int8")
    qat = next((e for e in evals if e.card["quantization"]["method"] == "qat"), None)
    if int8 and qat:
        report["ptq_vs_qat"] = {m: _variant_row(e, labels, reference) for m, e in (("ptq", int8), ("qat", qat))}
    if reference and int8:
        _compare_int8(report, figures, reference, int8, images, labels)
        keras, why_not = _find_keras(models_dir, keras_path, int8.card.get("source_model_sha256"))
        if keras is None:
            report["per_layer"] = {"skipped": why_not}
        else:
            report["per_layer"] = _layer_section(
                keras, int8.card, data, images, labels, reference.predictions, debug_images, denylist_layers, bar
            )
            figures.png["layer_error.png"] = layer_figure(
                report["per_layer"]["layers"], report["per_layer"]["rounding_noise_rmse_over_scale"]
            )
    else:
        report["per_layer"] = {"skipped": "the int8 comparison needs both fashion_float32 and fashion_int8 models"}
    report["images"] = sorted(figures.png)
    _write(out_dir, report, figures)
    return report


def _compare_int8(report, figures: Figures, reference: VariantEval, int8: VariantEval, images, labels) -> None:
    """Per-class accuracy, confusion matrices, flipped predictions and the targets check for int8 vs float32."""
    f_pred, q_pred = reference.predictions, int8.predictions
    f_acc, q_acc = per_class_accuracy(labels, f_pred), per_class_accuracy(labels, q_pred)
    support = np.bincount(labels, minlength=10)
    report["per_class"] = [
        {
            "class_id": c,
            "label": CLASS_NAMES[c],
            "support": int(support[c]),
            "float32_accuracy": round(float(f), 5),
            "int8_accuracy": round(float(q), 5),
            "delta_pp": round(100 * float(q - f), 3),
        }
        for c, (f, q) in enumerate(zip(f_acc, q_acc, strict=True))
    ]
    cms = {"float32": confusion_matrix(labels, f_pred), "int8": confusion_matrix(labels, q_pred)}
    report["confusion"] = {k: v.tolist() for k, v in cms.items()}
    figures.png["confusion.png"] = confusion_figure(cms)
    flipped = np.flatnonzero(f_pred != q_pred)
    shown = flipped[:MAX_FLIP_EXAMPLES]
    report["flips"] = {
        "count": int(len(flipped)),
        "float_right_int8_wrong": int(np.sum(f_pred[flipped] == labels[flipped])),
        "int8_right_float_wrong": int(np.sum(q_pred[flipped] == labels[flipped])),
        "examples": [
            {
                "test_index": int(i),
                "label": CLASS_NAMES[labels[i]],
                "float32": CLASS_NAMES[f_pred[i]],
                "int8": CLASS_NAMES[q_pred[i]],
            }
            for i in shown
        ],
    }
    if len(flipped):
        figures.png["flips.png"] = flips_figure(images[shown], labels[shown], f_pred[shown], q_pred[shown])
    f_total, q_total = float(np.mean(f_pred == labels)), float(np.mean(q_pred == labels))
    drop_pp, agreement = 100 * (f_total - q_total), 1 - len(flipped) / len(labels)
    report["int8_vs_float32"] = {
        "float32_accuracy": round(f_total, 5),
        "int8_accuracy": round(q_total, 5),
        "drop_pp": round(drop_pp, 3),
        "agreement": round(agreement, 5),
        "int8_size_bytes": int8.size_bytes,
        "meets": {
            "drop": drop_pp <= TARGETS["max_int8_drop_pp"],
            "agreement": agreement >= TARGETS["min_int8_agreement"],
            "size": int8.size_bytes <= TARGETS["max_int8_size_bytes"],
        },
    }


# --- rendering ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    title: str
    text: str
    header: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()
    image: str | None = None


def _pct(x: float) -> str:
    return f"{100 * x:.2f}"


def _sections(report: dict[str, Any]) -> list[Section]:
    """The report's sections, one source for Markdown and HTML."""
    mixed = len(report["source_models"]) > 1
    sections = [
        Section(
            "Variants",
            f"Evaluated on {report['test_images']} Fashion-MNIST test images (fresh run)."
            + (
                " WARNING: these files were converted from different Keras models (source_model_sha256 differs); "
                "re-run `fashion-edge convert` into an empty folder."
                if mixed
                else ""
            ),
            ("variant", "scheme", "input", "size KB", "accuracy %", "agreement with float32 %"),
            tuple(
                (
                    v["variant"],
                    v["scheme"],
                    v["input_dtype"],
                    f"{kb(v['size_bytes']):.1f}",
                    _pct(v["test_accuracy"]),
                    "-" if v["agreement_with_float32"] is None else _pct(v["agreement_with_float32"]),
                )
                for v in report["variants"]
            ),
        )
    ]
    if "int8_vs_float32" in report:
        c, met = report["int8_vs_float32"], {True: "met", False: "NOT met"}
        sections.append(
            Section(
                "int8 against float32: targets",
                (
                    f"int8 {_pct(c['int8_accuracy'])}% vs float32 {_pct(c['float32_accuracy'])}%: "
                    f"drop {c['drop_pp']:.2f} pp (target <= {TARGETS['max_int8_drop_pp']}: "
                    f"{met[c['meets']['drop']]}); top-1 agreement "
                    f"{_pct(c['agreement'])}% (target >= {_pct(TARGETS['min_int8_agreement'])}%: "
                    f"{met[c['meets']['agreement']]}); size {kb(c['int8_size_bytes']):.1f} KB "
                    f"(target <= {kb(TARGETS['max_int8_size_bytes']):.0f} KB: {met[c['meets']['size']]})."
                ),
            )
        )
        sections.append(
            Section(
                "Per-class accuracy",
                "Recall per class; delta = int8 - float32 in percentage points.",
                ("class", "images", "float32 %", "int8 %", "delta pp"),
                tuple(
                    (
                        r["label"],
                        r["support"],
                        _pct(r["float32_accuracy"]),
                        _pct(r["int8_accuracy"]),
                        f"{r['delta_pp']:+.2f}",
                    )
                    for r in report["per_class"]
                ),
            )
        )
        sections.append(
            Section(
                "Confusion matrices",
                "Rows: true class; columns: predicted. Right: int8 minus float32 (blue: fewer, red: more).",
                image="confusion.png",
            )
        )
        f = report["flips"]
        sections.append(
            Section(
                "Predictions that flip",
                (
                    f"{f['count']} test images change their top-1 class between float32 and int8: "
                    f"{f['float_right_int8_wrong']} that float32 got right and int8 gets wrong, "
                    f"{f['int8_right_float_wrong']} the other way round (first {MAX_FLIP_EXAMPLES} shown). "
                    "Title colour: red = int8 broke it, green = int8 fixed it, black = both wrong."
                ),
                image="flips.png" if f["count"] else None,
            )
        )
    if "ptq_vs_qat" in report:
        ptq, qat = report["ptq_vs_qat"]["ptq"], report["ptq_vs_qat"]["qat"]
        gain = 100 * (qat["test_accuracy"] - ptq["test_accuracy"])
        details = qat["qat"] or {}
        sections.append(
            Section(
                "Post-training vs quantization-aware int8",
                (
                    f"QAT ({details.get('epochs', '?')} fine-tuning epochs on {details.get('train_images', '?')} "
                    f"training images, targets: {details.get('targets', 'labels')}) changes int8 test accuracy by "
                    f"{gain:+.2f} pp against post-training quantization. Fine-tuning changes the weights, so compare "
                    "agreement with float32 too: it says how much of the float model's behaviour int8 kept."
                ),
                ("method", "variant", "accuracy %", "agreement with float32 %", "size KB"),
                tuple(
                    (
                        m.upper(),
                        r["variant"],
                        _pct(r["test_accuracy"]),
                        "-" if r["agreement_with_float32"] is None else _pct(r["agreement_with_float32"]),
                        f"{kb(r['size_bytes']):.1f}",
                    )
                    for m, r in (("ptq", ptq), ("qat", qat))
                ),
            )
        )
    layer = report.get("per_layer", {})
    if "skipped" in layer:
        sections.append(Section("Per-layer quantization error", f"Skipped: {layer['skipped']}."))
    elif layer:
        sections.append(
            Section(
                "Per-layer quantization error",
                f"TFLite QuantizationDebugger on {layer['debug_images']} test images, worst first. RMSE/scale is the "
                f"error in quantization steps; pure rounding gives {layer['rounding_noise_rmse_over_scale']:.2f}.",
                ("#", "op", "output tensor", "scale", "RMSE/scale", "mean error", "max abs error"),
                tuple(
                    (
                        i,
                        r["op"],
                        r["tensor"][:70],
                        f"{r['scale']:.4g}",
                        f"{r['rmse_over_scale']:.3f}",
                        f"{r['mean_error']:+.4f}",
                        f"{r['max_abs_error']:.4f}",
                    )
                    for i, r in enumerate(layer["layers"])
                ),
                "layer_error.png",
            )
        )
        sections.append(
            Section(
                "Selective quantization, measured",
                "The worst layers kept in float; every row has float model input/output, so row 0 is the like-for-like "
                "all-int8 baseline. " + layer.get("selective_verdict", ""),
                ("float layers", "float ops", "size KB", "accuracy %", "agreement with float32 %"),
                tuple(
                    (
                        len(s["float_layers"]),
                        ", ".join(s["float_ops"]) or "-",
                        f"{kb(s['size_bytes']):.1f}",
                        _pct(s["test_accuracy"]),
                        _pct(s["agreement_with_float"]),
                    )
                    for s in layer["selective"]
                ),
            )
        )
    return sections


def render_markdown(report: dict[str, Any]) -> str:
    parts = [f"# {report['title']}", "", f"Models: `{report['models_dir']}`", ""]
    for s in _sections(report):
        parts += [f"## {s.title}", "", s.text, ""]
        if s.header:
            parts += [markdown_table(s.header, s.rows), ""]
        if s.image:
            parts += [f"![{s.title}]({s.image})", ""]
    return "\n".join(parts)


def render_html(report: dict[str, Any], png: dict[str, bytes]) -> str:
    """One self-contained page: PNGs inlined as base64 data URIs, no external CSS/JS."""
    e = html.escape
    body = [f"<h1>{e(report['title'])}</h1>", f"<p>Models: <code>{e(report['models_dir'])}</code></p>"]
    for s in _sections(report):
        body += [f"<h2>{e(s.title)}</h2>", f"<p>{e(s.text)}</p>"]
        if s.header:
            body.append(html_table(s.header, s.rows))
        if s.image and s.image in png:
            body.append(html_image(s.title, png[s.image]))
    return html_page(report["title"], body)


def _write(out_dir: Path, report: dict[str, Any], figures: Figures) -> None:
    for name, data in figures.png.items():
        atomic_write_bytes(out_dir / name, data)
    atomic_write_json(out_dir / "report.json", report)
    atomic_write_text(out_dir / "report.md", render_markdown(report))
    atomic_write_text(out_dir / "report.html", render_html(report, figures.png))
