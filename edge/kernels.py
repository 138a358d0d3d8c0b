"""The compiled per-frame preprocessing kernels (edge/_kernels.c), or None where they were not built at install (no C
compiler or Python headers): then locate.py and preprocess.py run their numpy references, the same steps.

`compiled` is read at each call (`kernels.compiled`), so switching it off (None) runs the references everywhere: the
tests that hold the two to each other and the benchmark that measures what the kernels save do that.
"""

from __future__ import annotations

from types import ModuleType

compiled: ModuleType | None
try:
    from . import _kernels as compiled
except ImportError:
    compiled = None
