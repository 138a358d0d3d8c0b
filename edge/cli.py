"""`edge-classify [OPTIONS] [PATHS]...` (and `fashion-edge classify`): classify images, videos, streams, cameras.

click parses the options into one frozen `ClassifyOptions`; `run(options)` opens the inputs and outputs and hands
them to `classify_sources()`, the loop: sources -> preprocess -> Classifier -> printed lines / JSON Lines, with
optional observers (--serve), an annotated video (--save-video) and a window (--show).

Subcommands (for the device helper). `edge-classify NAME ARGS...` runs SUBCOMMANDS[NAME] when the first argument
is one of its keys; anything else is the classify command (a file that happens to be called `doctor` is `./doctor`).
Each value is "module:attribute" naming a `click.Command`, imported only when used (`options.load_command`, as
the `fashion-edge` group does). Add an entry here to add a subcommand.

Live web view (`--serve [HOST:]PORT`): `fashion_edge.edge.serve` is imported only when --serve is given;
`start_server(address: str, info: dict) -> Observer` (`address` as the user typed it, `info` = `Classifier.info()`:
the card plus path and runtime) raises FashionEdgeError for a port in use or a host that cannot be bound. The
returned object follows `observer.Observer`: `on_result(frame, model_input, prediction, stats)` per classified
frame (called from the inference thread, so it must not block), `on_status(message)` for source drops/reconnects,
`close()` at the end. `annotate.annotate()` draws the prediction on a frame.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np

from ..errors import FashionEdgeError
from ..options import echo_stdout, flush_stdout, load_command, user_errors
from .observer import Observer, Stats
from .record import result_record
from .registry import DEFAULT_SIZE, DEFAULT_VARIANT, SHIPPED_VARIANTS, SIZES
from .runtime import RUNTIMES

if TYPE_CHECKING:  # the real imports happen inside the command: `--help` stays fast and OpenCV-free
    from .classifier import Classifier, Prediction
    from .nothing import FrameResult
    from .preprocess import PreprocessConfig
    from .sources import Frame, Source

SUBCOMMANDS = {
    "doctor": "fashion_edge.edge.doctor:doctor_command",
    "parity": "fashion_edge.edge.parity:parity_command",
}
FPS_WINDOW = 30  # frames over which the reported FPS is averaged


# ---------------------------------------------------------------------------------------------------- options


@dataclass(frozen=True)
class ClassifyOptions:
    """Everything `edge-classify` was asked to do; the field names are the click parameter names."""

    paths: tuple[str, ...] = ()
    source: str | None = None
    camera: str | None = None
    model: Path | None = None
    model_size: str = DEFAULT_SIZE
    variant: str = DEFAULT_VARIANT
    model_info: bool = False
    runtime: str | None = None
    threads: int | None = None
    no_verify: bool = False
    preprocess: str = "auto"
    roi: str | None = None
    invert: str = "auto"
    top_k: int = 1
    threshold: float = 0.0
    json_lines: bool = False
    max_frames: int | None = None
    every: int = 1
    reconnect: int = 5
    timeout: float = 10.0
    save_video: Path | None = None
    show: bool = False
    serve: str | None = None
    token: str | None = None
    allow_host: tuple[str, ...] = ()
    limit: tuple[str, ...] = ()
    smooth: int | None = None
    on_change: bool = False

    @property
    def model_path(self) -> Path:
        """--model, else the shipped model of --model-size and --variant."""
        from .registry import shipped_model

        return self.model or shipped_model(self.variant, self.model_size)


# ---------------------------------------------------------------------------------------------------- output


def _result_line(frame: Frame, prediction: Prediction, stats: Stats) -> str:
    where = frame.source if frame.index is None else f"{frame.source}#{frame.index}"
    if stats.nothing is not None:
        fps = f"  {stats.fps:.1f} fps" if stats.fps else ""
        return f"{where}  nothing in view ({stats.nothing})  {prediction.latency_ms:.1f} ms{fps}"
    ranked = " | ".join(f"{c.label} {c.score:.2f}" for c in prediction.classes)
    flag = "  (uncertain)" if prediction.uncertain else ""
    fps = f"  {stats.fps:.1f} fps" if stats.fps else ""
    return f"{where}  {ranked}{flag}  {prediction.latency_ms:.1f} ms{fps}"


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else math.nan


@dataclass
class RunSummary:
    """What a run did: printed at the end (to stderr) and the basis of the exit code."""

    results: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    interrupted: bool = False
    live: bool = False

    def text(self) -> str:
        elapsed = time.perf_counter() - self.started
        fps = self.results / elapsed if elapsed > 0 else math.nan
        head = f"{self.results} classified in {elapsed:.1f} s ({fps:.1f} FPS)"
        if self.latencies_ms:
            p50, p95 = _percentile(self.latencies_ms, 50), _percentile(self.latencies_ms, 95)
            head += f", latency p50 {p50:.2f} ms p95 {p95:.2f} ms"
        head += "; stopped by Ctrl-C" if self.interrupted else ""
        lines = [head] + ([f"{len(self.failures)} failed:"] if self.failures else [])
        return "\n".join(lines + [f"  {source}: {message}" for source, message in self.failures])

    @property
    def exit_code(self) -> int:
        if self.failures or self.results == 0:
            return 1
        return 130 if self.interrupted and not self.live else 0  # Ctrl-C is how a live run normally ends


class VideoSink:
    """--save-video: annotated frames to OUT, written to a hidden file beside it and renamed when complete.

    OpenCV's VideoWriter reports no write errors, so on close the file is opened again and its frame count compared
    with the frames written: a disk that filled up leaves no finished-looking video, only an error.
    """

    CODECS = {".avi": "MJPG", ".mp4": "mp4v", ".mkv": "MJPG", ".mov": "mp4v"}

    def __init__(self, path: Path, fps: float | None) -> None:
        if path.suffix.lower() not in self.CODECS:
            raise FashionEdgeError(f"--save-video {path}: use one of {', '.join(self.CODECS)}")
        if not path.parent.is_dir():
            raise FashionEdgeError(f"--save-video {path}: folder {path.parent} does not exist")
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise FashionEdgeError(f"--save-video {path}: folder {path.parent} is not writable; choose another")
        self.path, self.fps = path, fps  # None: taken from the first source that knows its rate, else 15
        self._tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
        self._writer: Any = None
        self._size: tuple[int, int] | None = None
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        import cv2

        if self._writer is None:
            self._size = (image.shape[1], image.shape[0])
            fourcc = cv2.VideoWriter_fourcc(*self.CODECS[self.path.suffix.lower()])
            writer = cv2.VideoWriter(str(self._tmp), fourcc, self.fps or 15.0, self._size)
            if not writer.isOpened():
                writer.release()
                self._discard()
                raise FashionEdgeError(
                    f"--save-video {self.path}: cannot create the video there (a read-only or "
                    "full file system, or a codec this OpenCV build lacks)"
                )
            self._writer = writer
        if (image.shape[1], image.shape[0]) != self._size:  # stills of different sizes share one video
            image = cv2.resize(image, self._size)
        self._writer.write(image)
        self.frames += 1

    def close(self) -> None:
        """Finish the file and give it its name if every frame reached the disk; else remove it and say so."""
        import cv2

        if self._writer is None:
            return
        writer, self._writer = self._writer, None
        writer.release()
        check = cv2.VideoCapture(str(self._tmp))
        stored = int(check.get(cv2.CAP_PROP_FRAME_COUNT)) if check.isOpened() else 0
        check.release()
        if stored != self.frames:
            self._discard()
            raise FashionEdgeError(
                f"--save-video {self.path}: only {max(stored, 0)} of {self.frames} frames reached "
                "the disk (is it full?); the incomplete video was removed"
            )
        try:
            os.replace(self._tmp, self.path)
        except OSError as e:
            self._discard()
            raise FashionEdgeError(f"--save-video {self.path}: cannot give the video its name: {e.strerror}") from e

    def _discard(self) -> None:
        with contextlib.suppress(OSError):
            self._tmp.unlink()


class Window:
    """--show: one OpenCV window; refuses clearly on the headless OpenCV build."""

    NAME = "edge-classify"

    def __init__(self) -> None:
        import cv2

        try:
            cv2.namedWindow(self.NAME, cv2.WINDOW_NORMAL)
        except cv2.error as e:
            raise FashionEdgeError(
                "--show needs OpenCV with a GUI, and this is the headless build (opencv-python-headless); "
                "`pip install opencv-python` on a desktop, or watch in a browser with --serve 8080"
            ) from e

    def show(self, image: np.ndarray, still: bool) -> bool:
        """Show a frame; False when the user pressed q or Esc."""
        import cv2

        cv2.imshow(self.NAME, image)
        return (cv2.waitKey(0 if still else 1) & 0xFF) not in (ord("q"), 27)

    def close(self) -> None:
        import cv2

        cv2.destroyAllWindows()


@dataclass
class Outputs:
    """Where results go: stdout (lines or JSON Lines, through `echo`), observers, a video file, a window."""

    json_lines: bool = False
    observers: list[Observer] = field(default_factory=list)
    sink: VideoSink | None = None
    window: Window | None = None
    echo: Callable[[str], None] = echo_stdout

    def result(
        self, frame: Frame, model_input: np.ndarray, prediction: Prediction, stats: Stats, print_it: bool = True
    ) -> bool:
        """Send one result everywhere (stdout only if `print_it`: --on-change); False when the user closed the
        window."""
        from .annotate import annotate

        if print_it and self.json_lines:
            self.echo(json.dumps(result_record(prediction, stats)))
        elif print_it:
            self.echo(_result_line(frame, prediction, stats))
        for observer in self.observers:
            observer.on_result(frame.image, model_input, prediction, stats)
        if self.sink is None and self.window is None:
            return True
        drawn = annotate(frame.image, prediction, model_input, stats.fps, box=stats.box, nothing=stats.nothing)
        if self.sink is not None:
            self.sink.write(drawn)
        return self.window is None or self.window.show(drawn, frame.index is None)

    def failure(self, where: str, message: str) -> None:
        if self.json_lines:
            self.echo(json.dumps({"source": where, "error": message}))
        else:
            click.echo(f"error: {where}: {message}", err=True)

    def status(self, message: str) -> None:
        click.echo(f"status: {message}", err=True)
        for observer in self.observers:
            observer.on_status(message)

    def close(self) -> None:
        for observer in self.observers:
            observer.close()
        if self.sink is not None:
            self.sink.close()
        if self.window is not None:
            self.window.close()


# ---------------------------------------------------------------------------------------------------- the loop


class _FpsMeter:
    """End-to-end frames per second over the last FPS_WINDOW frames of one source."""

    def __init__(self) -> None:
        self._ends: deque[float] = deque(maxlen=FPS_WINDOW)

    def tick(self) -> float | None:
        self._ends.append(time.perf_counter())
        span = self._ends[-1] - self._ends[0]
        return (len(self._ends) - 1) / span if span > 0 else None


def classify_sources(
    sources: Iterator[Source],
    classifier: Classifier,
    preprocess: PreprocessConfig,
    outputs: Outputs,
    *,
    max_frames: int | None = None,
    smooth: int | None = None,
    on_change: bool = False,
) -> RunSummary:
    """Classify every frame of every source in turn (each source is closed when done, or on Ctrl-C).

    A frame that cannot be read or preprocessed is a failure of that input; the run goes on. Ctrl-C ends it cleanly.
    Frames of a video, stream or camera get steady labels over the last `smooth` frames (None: the default window,
    0: off); `on_change` prints a result only when the (steady) label of a source changes.
    """
    summary = RunSummary()
    try:
        for source in sources:
            with contextlib.closing(source):
                live = _LiveLabels(smooth, on_change, len(classifier.labels))
                if not _classify_source(source, classifier, preprocess, outputs, summary, max_frames, live):
                    break
    except KeyboardInterrupt:
        summary.interrupted = True
    return summary


class _LiveLabels:
    """Per source: steady labels over video/stream/camera frames (--smooth) and the --on-change filter."""

    def __init__(self, smooth: int | None, on_change: bool, n_classes: int) -> None:
        from .smoothing import DEFAULT_WINDOW, LabelSmoother

        window = DEFAULT_WINDOW if smooth is None else smooth
        self.smoother = LabelSmoother(window) if window > 1 else None
        self.on_change, self.n_classes = on_change, n_classes
        self._last: tuple[str | None] | None = None  # the last label printed (a tuple: None is a label)

    def steady(self, frame: Frame, result: FrameResult, classifier: Classifier) -> tuple[Prediction, str | None, bool]:
        """The prediction and nothing-reason to report for this frame, and whether they are smoothed."""
        if self.smoother is None or frame.index is None:  # stills are never smoothed
            return result.prediction, result.nothing, False
        from .classifier import Prediction
        from .postprocess import get_classes_from_scores

        steady = self.smoother.update(None if result.nothing else result.prediction.scores, self.n_classes)
        classes = get_classes_from_scores(steady.scores, classifier.top_k, labels=classifier.labels)
        prediction = Prediction(
            classes, steady.scores, result.prediction.latency_ms, uncertain=classes[0].score < classifier.threshold
        )
        nothing = None if steady.class_id is not None else (result.nothing or "nothing in most recent frames")
        return prediction, nothing, True

    def should_print(self, label: str | None) -> bool:
        """--on-change: True only when `label` differs from the last one printed for this source."""
        if not self.on_change:
            return True
        changed, self._last = self._last != (label,), (label,)
        return changed


def _classify_source(
    source: Source,
    classifier: Classifier,
    preprocess: PreprocessConfig,
    outputs: Outputs,
    summary: RunSummary,
    max_frames: int | None,
    live: _LiveLabels,
) -> bool:
    """Classify one source's frames into `summary`; False when the run should stop (window closed, --max-frames)."""
    from .nothing import classify_frame

    summary.live |= source.live
    if outputs.sink is not None and outputs.sink.fps is None:
        outputs.sink.fps = source.fps
    meter = _FpsMeter()
    for frame in source.frames():
        try:  # the one error boundary per frame: whatever decoding or preprocessing raised fails this frame only
            if frame.error is not None:
                raise FashionEdgeError(frame.error)
            result = classify_frame(frame.image, classifier, preprocess)
        except Exception as e:
            message = str(e) if isinstance(e, FashionEdgeError) else _unexpected(e)
            summary.failures.append((frame.source, message))
            outputs.failure(frame.source, message)
            continue
        prediction, nothing, smoothed = live.steady(frame, result, classifier)
        fps = meter.tick()
        summary.results += 1
        summary.latencies_ms.append(prediction.latency_ms)
        stats = Stats(
            frame.source,
            frame.index,
            summary.results,
            fps if frame.index is not None else None,
            prediction.latency_ms,
            result.preprocess_ms,
            getattr(source, "status", "ok"),
            nothing,
            result.box,
            result.candidates,
            smoothed,
            result.label,
        )
        print_it = live.should_print(None if nothing else prediction.label)
        if not outputs.result(frame, result.model_input, prediction, stats, print_it):
            return False
        if max_frames is not None and summary.results >= max_frames:
            return False
    return True


def _unexpected(error: BaseException) -> str:
    """One line for an exception no check foresaw (e.g. an OpenCV assertion on a strange image)."""
    lines = str(error).strip().splitlines()
    kind = type(error).__qualname__
    kind = kind if type(error).__module__ == "builtins" else f"{type(error).__module__}.{kind}"  # cv2.error
    return f"cannot preprocess this image ({kind}: {lines[-1] if lines else 'no detail'})"


# ---------------------------------------------------------------------------------------------------- run


def load_classifier(options: ClassifyOptions) -> Classifier:
    from .classifier import Classifier

    return Classifier(
        options.model_path,
        num_threads=options.threads,
        runtime=options.runtime,
        verify=not options.no_verify,
        top_k=options.top_k,
        threshold=options.threshold,
    )


def _print_model_info(classifier: Classifier, as_json: bool) -> None:
    info = classifier.info()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    inp, out = info["input"], info["output"]
    metrics = info.get("metrics") or {}
    output = (
        f"{out.get('shape', '')} {out['dtype']} {out.get('kind', 'logits')} scale {out['scale']} "
        f"zero point {out['zero_point']}"
    )
    rows = [
        ("path", info["path"]),
        ("variant", info.get("variant")),
        ("runtime", info["runtime"]),
        ("size", f"{info['size_bytes']:,} bytes"),
        ("sha256", info["sha256"]),
        ("input", f"{inp['shape']} {inp['dtype']} scale {inp['scale']} zero point {inp['zero_point']}"),
        ("output", output),
        ("quantization", json.dumps(info.get("quantization"))),
        ("test accuracy", metrics.get("test_accuracy")),
        ("labels", ", ".join(info["labels"])),
        ("created by", info.get("created_by")),
    ]
    for key, value in rows:
        click.echo(f"{key:>14}: {value}")


def _file_sources(paths: tuple[str, ...], every: int) -> Iterator[Source]:
    """Positional inputs -> sources in order: runs of stills batched into one ImageFiles, each video on its own."""
    from .sources import ImageFiles, InputItem, VideoFile, expand_inputs

    stills = []
    for item in expand_inputs(paths):
        if not item.is_video or item.error is not None:
            stills.append(item)
            continue
        if stills:
            yield ImageFiles(stills)
            stills = []
        try:
            yield VideoFile(item.path, every)
        except FashionEdgeError as e:  # reported like an unreadable image; the run goes on
            yield ImageFiles([InputItem(item.path, str(e))])
    if stills:
        yield ImageFiles(stills)


def _open_live_sources(options: ClassifyOptions, on_status: Callable[[str], None]) -> list[Source]:
    """--source and --camera, opened now: a missing camera or unreachable URL fails before anything else runs."""
    from .sources import open_camera_source, open_source

    live = {"every": options.every, "reconnect": options.reconnect, "on_status": on_status}
    opened = []
    if options.source:
        opened.append(open_source(options.source, timeout=options.timeout, **live))
    if options.camera:
        opened.append(open_camera_source(options.camera, **live))
    return opened


def _serve_module() -> Any:
    try:
        return importlib.import_module("fashion_edge.edge.serve")
    except ImportError as e:
        raise FashionEdgeError(f"--serve is unavailable in this install: {e}") from e


def run(options: ClassifyOptions) -> int:
    """Do what `options` ask; return the exit code (0: every input classified)."""
    from . import limits
    from .preprocess import PreprocessConfig, parse_roi

    limits.configure(limits.from_settings(options.limit))  # before anything is read
    if options.model_info:
        _print_model_info(load_classifier(options), options.json_lines)
        return 0
    if not (options.paths or options.source or options.camera):
        raise click.UsageError("give image files, folders or globs, --source FILE|URL, or --camera INDEX")
    config = PreprocessConfig(
        mode=options.preprocess, roi=parse_roi(options.roi) if options.roi else None, invert=options.invert
    )
    outputs = Outputs(json_lines=options.json_lines, window=Window() if options.show else None)  # fail early
    with contextlib.ExitStack() as stack:
        stack.callback(outputs.close)
        opened = _open_live_sources(options, outputs.status)
        for source in opened:
            stack.callback(source.close)  # closing twice is harmless; this covers sources never reached
        classifier = load_classifier(options)
        serve = _serve_module() if options.serve else None
        if serve is not None:
            outputs.observers.append(
                serve.start_server(
                    options.serve, classifier.info(), token=options.token, allow_hosts=options.allow_host
                )
            )
        if options.save_video:
            outputs.sink = VideoSink(options.save_video, next((s.fps for s in opened if s.fps), None))
        sources = _chain(_file_sources(options.paths, options.every), opened)
        # a web view of a video file plays it at its own frame rate, like a camera, instead of in a blink
        summary = classify_sources(
            serve.realtime(sources) if serve else sources,
            classifier,
            config,
            outputs,
            max_frames=options.max_frames,
            smooth=options.smooth,
            on_change=options.on_change,
        )
    if summary.results != 1 or summary.failures or summary.live or summary.interrupted:
        click.echo(summary.text(), err=True)
    return summary.exit_code


def _chain(files: Iterator[Source], live: list[Source]) -> Iterator[Source]:
    yield from files
    yield from live


# ---------------------------------------------------------------------------------------------------- command


def _classify_options(f: Callable) -> Callable:
    options = [
        click.argument("paths", nargs=-1, metavar="[PATHS]..."),
        click.option("--source", metavar="FILE|URL", help="A video file or a stream URL (MJPEG over HTTP, RTSP)."),
        click.option("--camera", metavar="INDEX|/dev/videoN|picamera2", help="A live camera (V4L2 or Picamera2)."),
        click.option(
            "--model",
            type=click.Path(dir_okay=False, path_type=Path),
            help="A .tflite with its .json card beside it (default: the model shipped in the package).",
        ),
        click.option(
            "--model-size",
            type=click.Choice(SIZES),
            default=DEFAULT_SIZE,
            show_default=True,
            help="Which shipped network: small (more accurate) or nano (faster).",
        ),
        click.option(
            "--variant",
            type=click.Choice(SHIPPED_VARIANTS),
            default=DEFAULT_VARIANT,
            show_default=True,
            help="Which shipped model to use.",
        ),
        click.option("--model-info", is_flag=True, help="Print the model card (with path and runtime) and exit."),
        click.option(
            "--runtime",
            type=click.Choice(list(RUNTIMES)),
            help="Interpreter to use [default: the first that imports, in that order].",
        ),
        click.option("--threads", type=click.IntRange(1, 64), help="Interpreter threads [default: the runtime's]."),
        click.option("--no-verify", is_flag=True, help="Skip the sha256 check of the model against its card."),
        click.option(
            "--preprocess",
            type=click.Choice(["auto", "photo", "dataset"]),
            default="auto",
            show_default=True,
            help="photo: find, trim and negate the garment; dataset: already 28x28-style.",
        ),
        click.option("--roi", metavar="X,Y,W,H", help="Only look at this region of each frame (pixels)."),
        click.option(
            "--invert",
            type=click.Choice(["auto", "on", "off"]),
            default="auto",
            show_default=True,
            help="on: the garment is darker than its background; off: lighter.",
        ),
        click.option("--top-k", type=click.IntRange(1, 10), default=1, show_default=True),
        click.option(
            "--threshold",
            type=click.FloatRange(0, 1),
            default=0.0,
            show_default=True,
            help="Mark results whose top score is below this as uncertain.",
        ),
        click.option("--json", "json_lines", is_flag=True, help="JSON Lines on stdout (also with --model-info)."),
        click.option("--max-frames", type=click.IntRange(1), help="Stop after classifying this many frames."),
        click.option(
            "--every",
            type=click.IntRange(1),
            default=1,
            show_default=True,
            help="Classify only every N-th frame of a video or stream.",
        ),
        click.option(
            "--reconnect",
            type=click.IntRange(0),
            default=5,
            show_default=True,
            help="Reconnect attempts (with backoff) when a stream or camera drops; 0 = never.",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(0.1),
            default=10.0,
            show_default=True,
            help="Seconds to wait for a stream URL to connect or send data.",
        ),
        click.option(
            "--save-video",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Write frames with the prediction drawn on (.avi or .mp4).",
        ),
        click.option("--show", is_flag=True, help="Show frames in a window (needs OpenCV with a GUI)."),
        click.option("--serve", metavar="[HOST:]PORT", help="Live web view of the stream and predictions."),
        click.option(
            "--smooth",
            type=click.IntRange(0, 1000),
            metavar="N",
            help="Steady labels on videos, streams and cameras: the class leading the last N frames "
            "(0 = off) [default: 5; images are never smoothed].",
        ),
        click.option(
            "--on-change",
            is_flag=True,
            help="Print a line (or JSON record) only when a source's label changes, nothing in view "
            "included: what an integration wants.",
        ),
        click.option(
            "--token",
            envvar="FASHION_EDGE_TOKEN",
            show_envvar=True,
            help="--serve: every page but /healthz needs this token (open /?token=TOKEN once in a browser, "
            "or send Authorization: Bearer TOKEN). Set it whenever the view binds beyond 127.0.0.1.",
        ),
        click.option(
            "--allow-host",
            multiple=True,
            metavar="NAME",
            help="--serve: also answer requests for this Host name (repeatable; '*' = any). Loopback "
            "names, this machine's name and the address a request arrives on are always allowed.",
        ),
        click.option(
            "--limit",
            multiple=True,
            metavar="NAME=VALUE",
            help="Change a limit (repeatable): max-file-bytes, max-image-pixels, max-part-bytes, "
            "max-card-bytes, max-viewers, max-connections, request-timeout-s; e.g. --limit "
            "max-image-pixels=50M. Defaults and FASHION_EDGE_* variables: README, Reliability.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@click.command("classify", epilog="Subcommands: edge-classify doctor | parity IMAGE... (see NAME --help).")
@_classify_options
def classify_command(**params: Any) -> None:
    """Classify garments in images, folders, globs, videos, streams or a camera with a TFLite model (no TensorFlow).

    Prints one line per image or frame (label, score, latency), or JSON Lines with --json. Exits 0 when every
    input was classified, 1 otherwise (the failures are listed at the end).
    """
    with user_errors():
        code = run(ClassifyOptions(**params))
        flush_stdout()
    sys.exit(code)


class _WithSubcommands(click.Command):
    """The classify command, except that `edge-classify NAME ...` runs SUBCOMMANDS[NAME] (see the module doc)."""

    def main(self, args: Any = None, prog_name: str | None = None, **extra: Any) -> Any:
        args = list(sys.argv[1:] if args is None else args)
        prog = prog_name or "edge-classify"
        if args and args[0] in SUBCOMMANDS:
            command = load_command(args[0], SUBCOMMANDS[args[0]], prog)
            return command.main(args[1:], prog_name=f"{prog} {args[0]}", **extra)
        return super().main(args, prog_name=prog_name, **extra)


main = _WithSubcommands(
    "edge-classify",
    callback=classify_command.callback,
    params=classify_command.params,
    help=classify_command.help,
    epilog=classify_command.epilog,
)


if __name__ == "__main__":
    main()
