"""The one error type for mistakes a user can cause (bad path, corrupt file, wrong model, no camera)."""


class FashionEdgeError(Exception):
    """A user-facing error: its message says what went wrong and what to do. CLIs print it without a traceback."""
