"""Rendering shared by the reports and the web view: Markdown tables, self-contained HTML pages, PNG images.

A leaf: imports nothing of the pipeline. matplotlib figures and OpenCV images are encoded here, each library
imported only by the function that needs it.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

_NUMBER = re.compile(r"[-+]?[\d.,]+")


def kb(size_bytes: int) -> float:
    """A file size in decimal kilobytes: the unit of every size this project prints (the issues' targets are in KB)."""
    return size_bytes / 1000


def markdown_table(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table; cells are written with str()."""
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def html_table(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> str:
    """An HTML table, every cell escaped; numbers get class "num" (right-aligned by PAGE_STYLE, digits line up)."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(_html_cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_cell(value: Any) -> str:
    text = str(value)
    return f'<td class="num">{html.escape(text)}</td>' if _NUMBER.fullmatch(text) else f"<td>{html.escape(text)}</td>"


PAGE_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;"
    "font-size:14px}td.num{text-align:right}th{background:#f0f0f0}img{max-width:100%;border:1px solid #eee}"
    "code{background:#f4f4f4;padding:1px 4px}"
)


def html_page(title: str, body: Iterable[str]) -> str:
    """One self-contained page (no external CSS, scripts or images) around `body`'s HTML fragments."""
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{PAGE_STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def html_image(alt: str, png: bytes) -> str:
    """An <img> with the PNG embedded as a base64 data URI."""
    return f'<img alt="{html.escape(alt, quote=True)}" src="data:image/png;base64,{base64_text(png)}">'


def base64_text(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def figure_png(fig: Any, dpi: int = 100) -> bytes:
    """A matplotlib figure as PNG bytes, trimmed to its content."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def image_png(image: Any) -> bytes:
    """An OpenCV image (numpy array) as PNG bytes; b"" if OpenCV cannot encode it."""
    import cv2

    ok, buf = cv2.imencode(".png", image)
    return buf.tobytes() if ok else b""
