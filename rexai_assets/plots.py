"""Plots in the UI and in command output: a figure as PNG bytes, a PNG as a markdown image (assets embed
their figures in their metadata). Any layer may import this; matplotlib is imported by those that draw."""

from __future__ import annotations

import base64
import io
from typing import Any


def png_bytes(fig: Any, dpi: int = 80) -> bytes:
    """The figure as PNG bytes (no software tag, so the same figure gives the same bytes), then closed."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def markdown_image(png: bytes, alt: str = "plot") -> str:
    """The PNG inline as a markdown image (a data URI), so the UI shows it without serving a file."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"
