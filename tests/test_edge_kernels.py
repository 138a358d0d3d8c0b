"""edge/_kernels.c, the compiled per-frame kernels: built where a C compiler is, held to locate.py's numpy reference on
rendered frames of every condition, and refusing buffers that do not fit."""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path

import cv2
import numpy as np
import pytest

from fashion_edge.benchmarks.scenes import CONDITIONS, EMPTY_CONDITIONS, iter_frames
from fashion_edge.edge import kernels, locate, preprocess

compiled = kernels.compiled
needs_kernels = pytest.mark.skipif(compiled is None, reason="the compiled kernels are not built here")


def test_the_kernels_are_built_where_a_c_compiler_and_python_headers_are():
    headers = Path(sysconfig.get_paths()["include"], "Python.h").is_file()
    if not (shutil.which("cc") or shutil.which("gcc")) or not headers:
        pytest.skip("no C compiler or Python headers: the numpy reference runs")
    assert compiled is not None, "pip install -e . did not build fashion_edge.edge._kernels"


@pytest.fixture(scope="module")
def frames(fmnist) -> list[np.ndarray]:
    """Four frames of every condition (shadows, light objects, empty scenes, noise, a covered lens among them)."""
    images = fmnist.x_test[100:104]
    return [f for c in CONDITIONS for f in iter_frames(4 if c in EMPTY_CONDITIONS else images, c, seed=3)]


@pytest.fixture
def reference(monkeypatch):
    """Runs a function with the kernels switched off: the numpy reference."""

    def run(function, *args):
        with monkeypatch.context() as patch:
            patch.setattr(kernels, "compiled", None)
            return function(*args)

    return run


def kernel_blobs(ink: np.ndarray, threshold: float):
    """`candidates`' labelling on its own (compiled.blobs), in locate._blobs' form."""
    h, w = ink.shape
    labels = np.empty(h * w, np.int32)
    found = compiled.blobs(ink, h, w, threshold, labels)
    if found is None:
        return None
    x, y, ww, wh, stats = found
    return (x, y), labels[: ww * wh].reshape(wh, ww), stats


def kernel_measure(mask: np.ndarray, ink: np.ndarray, x: int, y: int) -> tuple[float, float, float]:
    """`candidates`' measure of one blob on its own (compiled.blob), as locate._measure's."""
    return compiled.blob(mask, *mask.shape, ink, *ink.shape, x, y, *locate.UPRIGHT_RULE)


@needs_kernels
def test_kernels_agree_with_the_numpy_reference(frames, reference):
    for frame in frames:
        work, _, _ = locate.downscale(frame)
        (coef, sides), (want_coef, want_sides) = locate._fit_smooth(work), reference(locate._fit_smooth, work)
        cells = locate._cells(work, locate.COARSE)  # (the kernel's cell means: cv2.resize's, bit for bit)
        h, w = cells.shape
        args = (h, w, 1, locate._band_width(h, w), 3, 1e-4, 0.06)
        assert compiled.fit_smooth(cells, *args) == compiled.fit_smooth(work, h, w, locate.COARSE, *args[3:])
        np.testing.assert_allclose(coef, want_coef, atol=1e-5)  # (float32 rounding of the log; the fit in doubles)
        assert sides == want_sides
        got, want = locate.fit_lighting(work), reference(locate.fit_lighting, work)  # with shadow steps, where found
        np.testing.assert_array_equal(got.lines, want.lines)
        np.testing.assert_array_equal(got.steps != 0, want.steps != 0)
        # (a point at the noise limit may fall either side of it: the fits differ by that point, well within 2%)
        np.testing.assert_allclose(np.r_[got.coef, got.steps], np.r_[want.coef, want.steps], atol=0.02)
        lighting = locate.Lighting(want_coef, locate._NO_LINES, locate._NO_STEPS, 0.01)
        for invert in ("auto", "on", "off"):
            background, ink, noise, dark = locate._background_ink(work, lighting, invert)
            want = reference(locate._background_ink, work, lighting, invert)
            np.testing.assert_allclose(background, want[0], rtol=1e-5)
            np.testing.assert_allclose(ink, want[1], atol=1e-4)
            assert noise == pytest.approx(want[2], rel=0.01) and dark == want[3]
        scene = locate.analyse(frame)
        for candidate in scene.candidates:  # the crop's ink, against the background interpolated under it
            x0, y0, x1, y1 = scene.frame_box(candidate)
            region = locate.shrink(preprocess.to_gray(frame)[y0:y1, x0:x1], preprocess.CROP_SIDE)
            got, want = scene.ink_of(region, (x0, y0, x1, y1)), reference(scene.ink_of, region, (x0, y0, x1, y1))
            np.testing.assert_allclose(got, want, atol=1e-4)


@needs_kernels
def test_the_blob_kernel_gives_the_references_upright_angle_exactly(frames, reference, monkeypatch):
    blobs, measure = [], locate._measure
    monkeypatch.setattr(locate, "_measure", lambda *args: blobs.append(args) or measure(*args))
    for frame in frames:  # (the frames' blobs, as the reference measures them)
        reference(preprocess.preprocess, frame)
    monkeypatch.setattr(locate, "_measure", measure)
    rng = np.random.default_rng(7)  # and blobs of every shape: noise, a dot, nothing, a tilted bar, a shoe-like wedge
    ink = rng.random((120, 160)).astype(np.float32)
    masks = [(rng.random((h, w)) < 0.6).view(np.uint8) for h, w in rng.integers(1, 90, (40, 2))]
    bar, wedge = np.zeros((60, 60), np.uint8), np.tri(40, 70, 0, np.uint8)
    bar[10:50, 25:35] = 1
    masks += [np.zeros((9, 9), np.uint8), np.eye(3, dtype=np.uint8), wedge, wedge[:, ::-1].copy()]
    masks += [cv2.warpAffine(bar, cv2.getRotationMatrix2D((30, 30), angle, 1), (60, 60)) for angle in (-21, 4, 17)]
    blobs += [(mask, ink, 3, 5) for mask in masks]
    assert len(blobs) > 80
    angles = set()
    for args in blobs:  # the same warp, rounding, counts and hull extents as OpenCV's: the angle equal, not close
        (mean, sd, angle), want = kernel_measure(*args), locate._measure(*args)
        assert angle == want[2] and mean == pytest.approx(want[0], abs=1e-9) and sd == pytest.approx(want[1], abs=1e-6)
        angles.add(angle)
    assert len(angles) > 5  # (uprighted by an axis and by a box, and left as they stand)


@needs_kernels
def test_the_crop_kernels_agree_with_the_reference_on_any_ink(reference):
    rng = np.random.default_rng(11)
    for h, w in [(112, 80), (1, 1), (1, 7), (5, 1), (3, 3), (28, 28)]:
        ink = (rng.random((h, w)) * rng.random((h, w)) ** 3).astype(np.float32)
        for floor in (0.05, 0.3, 2.0):  # (2.0: above every pixel: no box)
            assert preprocess._ink_box(ink, floor) == reference(preprocess._ink_box, ink, floor)
    for h, w in [*rng.integers(2, 112, (30, 2)), (112, 112), (56, 84), (5, 9), (1, 1)]:  # shrunk, exact, enlarged
        ink = (rng.random((h, w)) ** 2).astype(np.float32)
        for box in [(0, 0, 0, 0), (0, 0, w, h), (w // 4, h // 3, max(1, w // 2), max(1, h // 2))]:
            for floor in (0.05, 0.9):
                got = preprocess._model_input(ink, box, floor)
                want = reference(preprocess._model_input, ink, box, floor)
                assert got.dtype == np.uint8 and np.abs(got.astype(int) - want).max() <= 1, (h, w, box)


@needs_kernels
def test_preprocessing_with_the_kernels_gives_the_references_boxes_and_inputs(frames, reference):
    for frame in frames:
        got, want = preprocess.preprocess(frame), reference(preprocess.preprocess, frame)
        assert (got.boxes, got.nothing, got.objects) == (want.boxes, want.nothing, want.objects)
        assert np.abs(got.model_input.astype(int) - want.model_input).max() <= 1  # a gray level, where a sum rounds


@needs_kernels
def test_the_halved_gray_and_the_blur_are_opencvs_pixel_for_pixel(reference):
    rng = np.random.default_rng(5)  # every colour's rounding, the vector path's tails, odd sides, the smallest frame
    sizes = [(480, 640), (481, 641), (2, 2), (3, 35), (240, 33), (100, 64), (7, 97), (2, 16386)]  # (wider: plain C)
    for h, w in sizes:
        frame = rng.integers(0, 256, (h, w, 3), np.uint8)
        assert np.array_equal(locate.gray_half(frame), reference(locate.gray_half, frame)), (h, w)
        want = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)[: h // 2 * 2, : w // 2 * 2], (w // 2, h // 2))
        assert np.array_equal(locate.gray_half(frame), want), (h, w)
    for h, w in [(120, 160), (1, 1), (1, 5), (5, 1), (2, 3), (97, 33)]:  # and the working copy's blur
        small = rng.integers(0, 256, (h, w), np.uint8)
        assert np.array_equal(locate._smooth(small), reference(locate._smooth, small)), (h, w)
    frame = rng.integers(0, 256, (60, 90, 4), np.uint8)  # BGRA and views not contiguous: OpenCV's calls, the same
    for image in (frame, frame[:, :, :3], frame[::2, 10:]):
        want = locate.halve(locate.to_gray(image))
        assert np.array_equal(locate.gray_half(image), want)


@needs_kernels
def test_a_crop_from_the_halved_frame_is_the_crop_from_the_frame(frames):
    for frame in frames:  # (the boxes' corners: even, odd, at the frame's edges)
        scene = locate.analyse(frame)
        for box in [(0, 0, 640, 480), (4, 8, 404, 304), (3, 8, 403, 308), (100, 40, 180, 150), (636, 400, 640, 480)]:
            x0, y0, x1, y1 = box
            want = locate.shrink(locate.to_gray(frame)[y0:y1, x0:x1], preprocess.CROP_SIDE)
            assert np.array_equal(preprocess._gray_crop(frame, scene, box), want), box


@needs_kernels
def test_the_blobs_are_opencvs_labels_numbered_alike():
    rng = np.random.default_rng(9)  # speckle, blobs, lines, whole maps, one pixel, nothing above the threshold
    maps = []
    for h, w in rng.integers(1, 130, (300, 2)):
        ink = (rng.random((h, w)) < rng.random() * 0.6) * rng.random((h, w))
        maps.append(cv2.GaussianBlur(ink, (0, 0), 0.5 + 3 * rng.random()) if rng.random() < 0.5 else ink)
    maps += [np.eye(40), np.ones((7, 9)), np.zeros((5, 5)), np.pad(np.ones((1, 1)), 3)]
    for ink in maps:
        ink = ink.astype(np.float32)
        for threshold in (0.05, 0.5 * float(ink.max())):
            got, want = kernel_blobs(ink, threshold), locate._blobs(ink, threshold)
            assert (got is None) == (want is None)
            if got is not None:
                assert got[0] == want[0] and np.array_equal(got[1], want[1])
                assert [list(row) for row in got[2]] == want[2]


@needs_kernels
def test_the_candidates_kernel_finds_the_references_objects(reference):
    rng = np.random.default_rng(13)  # scattered ellipses and specks: objects grown from parts, second objects, none
    grew = []
    near = locate._near_members
    for _ in range(300):
        h, w = (120, 160) if rng.random() < 0.7 else tuple(int(v) for v in rng.integers(3, 200, 2))
        ink = np.zeros((h, w), np.float32)
        for _ in range(rng.integers(0, 8)):
            centre, axes = (int(rng.integers(0, w)), int(rng.integers(0, h))), rng.integers(1, (w // 3 + 2, h // 3 + 2))
            cv2.ellipse(ink, centre, tuple(int(a) for a in axes), float(rng.random() * 180), 0, 360, rng.random(), -1)
        ink += (rng.random((h, w)) < 0.03 * rng.random()) * rng.random((h, w)).astype(np.float32)
        threshold = float(0.5 * rng.random())
        got = locate.find_candidates(ink, threshold)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(locate, "_near_members", lambda *args: grew.append(near(*args)) or grew[-1])
            want = reference(locate.find_candidates, ink, threshold)
        assert [(c.box, c.angle) for c in got] == [(c.box, c.angle) for c in want]
        for c, r in zip(got, want, strict=True):
            assert c.mass == pytest.approx(r.mass, rel=1e-9) and c.contrast == pytest.approx(r.contrast, rel=1e-9)
    assert sum(grew) > 10  # (objects grown by a neighbouring part)


@needs_kernels
def test_kernels_refuse_buffers_that_do_not_fit():
    cells, work = np.ones((15, 20), np.float32), np.ones((120, 160), np.float32)
    out = np.empty((120, 160), np.float32)
    with pytest.raises(ValueError):
        compiled.fit_smooth(cells, 15, 21, 1, 1, 3, 1e-4, 0.06)  # more cells than the buffer holds
    with pytest.raises(ValueError):
        compiled.fit_smooth(np.ones((2, 2), np.float32), 2, 2, 1, 1, 3, 1e-4, 0.06)
    with pytest.raises(ValueError):
        compiled.fit_smooth(work, 15, 20, 9, 1, 3, 1e-4, 0.06)  # cells larger than the working copy
    with pytest.raises(ValueError):
        compiled.background_ink(work, 120, 160, (0.0,) * 6, 3, 0, np.empty((120, 159), np.float32), out)
    with pytest.raises(ValueError, match="contiguous"):
        compiled.background_ink(work[:, ::2], 120, 80, (0.0,) * 6, 3, 0, out[:, :80], out[:, 80:])
    with pytest.raises(TypeError):
        compiled.background_ink(work, 120, 160, (0.0,) * 6, 3, 0, work.tobytes(), out)  # a read-only output
    with pytest.raises(ValueError):  # more columns than the fit takes
        compiled.solve_robust(
            np.ones((100, 17), np.float32), 100, 17, np.ones(100, np.float32), np.ones(100, np.uint8), 4, 1e-4
        )
    with pytest.raises(ValueError):
        compiled.solve_robust(
            np.ones((100, 7), np.float32), 100, 7, np.ones(99, np.float32), np.ones(100, np.uint8), 4, 1e-4
        )
    with pytest.raises(ValueError):  # a box reaching past the background
        compiled.crop_ink(
            np.ones((8, 8), np.uint8), 8, 8, work, 120, 160, 150, 0, 161, 8, True, np.empty((8, 8), np.float32)
        )
    with pytest.raises(ValueError):
        compiled.ink_box(np.ones((300, 300), np.float32), 300, 300, 0.1)  # larger than any crop
    with pytest.raises(ValueError):
        compiled.model_input(
            np.ones((28, 28), np.float32), 28, 28, 0, 0, 0, 0, 28, 0.1, 0.5, np.empty((28, 27), np.uint8)
        )
    with pytest.raises(ValueError):  # a box past the crop
        compiled.model_input(
            np.ones((28, 28), np.float32), 28, 28, 20, 0, 9, 5, 28, 0.1, 0.5, np.empty((28, 28), np.uint8)
        )
    rule = locate.UPRIGHT_RULE
    with pytest.raises(ValueError):
        compiled.blob(np.ones((10, 10), np.uint8), 10, 11, work, 120, 160, 0, 0, *rule)
    with pytest.raises(ValueError):
        compiled.blob(np.ones((10, 10), np.uint8), 10, 10, work, 120, 160, 155, 0, *rule)  # past the ink map's edge
    with pytest.raises(ValueError):
        compiled.blob(np.ones((800, 800), np.uint8), 800, 800, work, 120, 160, 0, 0, *rule)
    with pytest.raises(ValueError):
        compiled.blobs(work, 120, 160, 0.5, np.empty(120 * 159, np.int32))  # labels smaller than the map
    with pytest.raises(ValueError):
        compiled.smooth(np.ones((12, 16), np.uint8), 12, 16, np.empty((12, 15), np.float32))
    with pytest.raises(ValueError):
        compiled.candidates(work, 120, 161, 0.5, 2, 4.8, *rule)  # a map larger than its buffer
    with pytest.raises(ValueError):
        compiled.candidates(np.ones((600, 600), np.float32), 600, 600, 0.5, 2, 4.8, *rule)  # no working copy
    bgr = np.ones((48, 64, 3), np.uint8)
    with pytest.raises(ValueError):
        compiled.gray_half(bgr, 48, 65, np.empty((24, 32), np.uint8))  # a frame larger than its buffer
    with pytest.raises(ValueError):
        compiled.gray_half(bgr[:1], 1, 64, np.empty((0, 32), np.uint8))  # a row: nothing to halve
    with pytest.raises(ValueError):
        compiled.gray_half(bgr, 48, 64, np.empty((24, 31), np.uint8))


@needs_kernels
def test_an_absurd_surface_stays_finite():
    work = np.full((120, 160), 100.0, np.float32)
    background, ink = np.empty_like(work), np.empty_like(work)
    noise, _ = compiled.background_ink(work, 120, 160, (500.0, -900.0, 0, 0, 0, 0), 3, 0, background, ink)
    assert np.isfinite(background).all() and np.isfinite(ink).all() and np.isfinite(noise)
    assert background.min() >= 1.0 and ink.min() >= 0.0
