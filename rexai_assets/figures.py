"""Plots as bytes and as markdown, for asset metadata and command output (any layer may import this).

matplotlib is imported by the callers that draw, never here, so importing this module stays light."""

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
    """An inline markdown image (base64 PNG), as the Dagster UI renders it in asset metadata."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"
