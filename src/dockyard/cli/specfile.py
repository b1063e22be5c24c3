"""Spec and manifest files: YAML or JSON, chosen by content (JSON is valid YAML anyway)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml


def load_document(path: str) -> dict[str, Any]:
    """The mapping in a YAML or JSON file (`-` reads standard input)."""
    text = sys.stdin.read() if path == "-" else Path(path).read_text()
    name = "standard input" if path == "-" else path
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            raise ValueError(f"{name} is neither valid JSON nor valid YAML{where}.") from None
    if not isinstance(data, dict):
        raise ValueError(f"{name} must hold a mapping (an object), not {type(data).__name__}.")
    return data
