"""Plots in the UI: a PNG as a markdown image (assets embed their figures in their metadata)."""

from __future__ import annotations

import base64


def markdown_image(png: bytes, alt: str = "plot") -> str:
    """The PNG inline as a markdown image (a data URI), so the UI shows it without serving a file."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"
