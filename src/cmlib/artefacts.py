"""Artefacts one notebook writes for another (the scorecard, lifetime values): versioned JSON.

Every document carries ``kind`` and ``schema_version``; a reader names both and gets an
:class:`~cmlib.errors.ArtefactError` for a missing file, text that is not a JSON object, another kind, another
version, or missing keys — never a half-read model. JSON, not pickle: an artefact is safe to open.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from cmlib.errors import ArtefactError, ArtefactMissing


def artefact_document(kind: str, version: int, **content) -> dict:
    """The document to write: ``{"schema_version": version, "kind": kind, **content}``."""
    return {"schema_version": version, "kind": kind, **content}


def write_artefact(path: str | Path, doc: dict) -> Path:
    """Write ``doc`` (from :func:`artefact_document`) as indented JSON; floats that JSON cannot hold fail."""
    return write_atomic(path, json.dumps(doc, indent=2, default=float, allow_nan=False))


def write_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to a temporary file beside ``path`` and rename it: a reader (a notebook the runner started
    early, waiting for this file) sees the whole file or none of it."""
    import os

    p = Path(path)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, p)
    return p


def check_artefact(
    doc,
    kind: str,
    version: int,
    required: Iterable[str] = (),
    name: str | None = None,
    ranges: dict[str, tuple] | None = None,
) -> dict:
    """Check an already-parsed document: a JSON object of ``kind`` at ``version`` with the ``required`` keys,
    and each number ``ranges`` names within its range: ``{"params.pdo": (1, 200), "arms.*.value": (lo, hi)}``,
    where ``*`` is every member of a list or mapping and a third item ``"or null"`` lets the value be missing."""
    label = name or f"{kind} artefact"
    if not isinstance(doc, dict):
        raise ArtefactError(f"{label}: expected a JSON object, got {type(doc).__name__}")
    if doc.get("kind") != kind or doc.get("schema_version") != version:
        raise ArtefactError(
            f"{label}: expected kind {kind!r} schema {version}, got kind {doc.get('kind')!r} "
            f"schema {doc.get('schema_version')!r}"
        )
    missing = [k for k in required if k not in doc]
    if missing:
        raise ArtefactError(f"{label} lacks {', '.join(missing)}")
    bad = _implausible_number(doc)
    if bad:
        raise ArtefactError(
            f"{label}: {bad[0]} is {bad[1]!r}, outside ±{MAX_MAGNITUDE:g} (a corrupt or edited file)"
        )
    for pattern, (lo, hi, *nullable) in (ranges or {}).items():
        for path, v in _members(doc, pattern.split(".")):
            if v is None and nullable:
                continue
            number = isinstance(v, int | float) and not isinstance(v, bool)
            if not number or not lo <= v <= hi:
                raise ArtefactError(f"{label}: {path} must be a number in [{lo:g}, {hi:g}], got {v!r}")
    return doc


def _members(node, parts: list[str], path: str = ""):
    """(path, value) of every member a dotted pattern names; a member that is absent is skipped (the required
    keys are checked apart)."""
    if not parts:
        yield path, node
        return
    key, rest = parts[0], parts[1:]
    if key == "*":
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    else:
        items = [(key, node[key])] if isinstance(node, dict) and key in node else []
    for k, v in items:
        yield from _members(v, rest, f"{path}[{k}]" if isinstance(k, int) else f"{path}.{k}".lstrip("."))


#: no finite number in an artefact is larger than this (points, money per account, bin edges, hazards): a value
#: such as 1e308 is a corrupt or hand-edited file, not a model (±infinity stays: an open bin edge)
MAX_MAGNITUDE = 1e12


def _implausible_number(node, path: str = "") -> tuple[str, float] | None:
    """The first number in a parsed JSON document that is NaN or a finite number beyond :data:`MAX_MAGNITUDE`, with
    its path (``products.card.hazards[3].default_hazard``); None when all are plausible."""
    import math

    if isinstance(node, bool) or node is None or isinstance(node, str):
        return None
    if isinstance(node, int | float):
        # ±infinity is an open bin edge; NaN or a finite number beyond the bound is not a model's
        ok = math.isinf(node) or (math.isfinite(node) and abs(node) <= MAX_MAGNITUDE)
        return None if ok else (path or "value", node)
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for k, v in items:
        sub = f"{path}[{k}]" if isinstance(k, int) else (f"{path}.{k}" if path else str(k))
        hit = _implausible_number(v, sub)
        if hit:
            return hit
    return None


def read_artefact(
    source: str | Path | dict,
    kind: str,
    version: int,
    required: Iterable[str] = (),
    ranges: dict[str, tuple] | None = None,
) -> dict:
    """Read and check an artefact from a path, JSON text or an already-parsed dict (see :func:`check_artefact`)."""
    if isinstance(source, dict):
        return check_artefact(source, kind, version, required, ranges=ranges)
    text, name = str(source), f"{kind} artefact"
    try:
        if not text.lstrip().startswith(("{", "[")):
            p = Path(text)
            name = f"{kind} artefact {p.name}"
            if not p.is_file():
                raise ArtefactMissing(f"{kind} artefact not found: {p}")
            text = p.read_text(encoding="utf-8")
        doc = json.loads(text)
    except UnicodeDecodeError:
        raise ArtefactError(f"{name} is not valid JSON: not UTF-8 text (a binary or damaged file)") from None
    except json.JSONDecodeError as exc:
        raise ArtefactError(f"{name} is not valid JSON: {exc}") from None
    return check_artefact(doc, kind, version, required, name=name, ranges=ranges)
