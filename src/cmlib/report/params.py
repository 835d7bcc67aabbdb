"""Notebook parameters: read a notebook's ``parameters`` cell and validate values against it.

papermill alone only warns on an unknown name and passes ``-p flag false`` as the string ``'false'``;
the runner calls :func:`validate` before any kernel starts, so a typo stops the run with exit code 2.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import yaml

from cmlib.errors import ParameterError

PARAMETERS_TAG = "parameters"
#: a declared range at the end of a parameter's comment: ``in (0, 1)``, ``in [1_000, 50_000_000]``, ``in [0, inf)``
_RANGE = re.compile(
    r"\bin (?P<open>[\[(])\s*(?P<lo>-?inf|-?[\d_]+(?:\.\d+)?(?:e-?\d+)?)\s*,\s*"
    r"(?P<hi>-?inf|-?[\d_]+(?:\.\d+)?(?:e-?\d+)?)\s*(?P<close>[\])])\s*$"
)


#: a declared set of values at the end of a parameter's comment: ``one of "duckdb", "spark"``
_CHOICES = re.compile(r'\bone of (?P<values>"[^"]*"(?:\s*,\s*"[^"]*")*)\s*$')


@dataclass(frozen=True)
class Parameter:
    """One name of a notebook's parameters cell: its default value and the comment beside it."""

    name: str
    default: Any
    help: str = ""

    @property
    def bounds(self) -> tuple[float, float, bool, bool] | None:
        """The range a number must lie in, declared at the end of the comment as ``in [lo, hi]``, ``in (lo, hi)``
        or a mix (``inf`` allowed): (lo, hi, lo included, hi included), or None when none is declared."""
        m = _RANGE.search(self.help)
        if m is None:
            return None
        lo, hi = (float(x.replace("_", "")) for x in (m["lo"], m["hi"]))
        return lo, hi, m["open"] == "[", m["close"] == "]"

    @property
    def choices(self) -> list[str] | None:
        """The values a text parameter may take, declared at the end of the comment as ``one of "a", "b"``."""
        m = _CHOICES.search(self.help)
        return re.findall(r'"([^"]*)"', m["values"]) if m else None

    def check_range(self, value: Any, where: str) -> Any:
        """``value`` unchanged when it lies in the declared range or set (or none is declared); else
        ParameterError."""
        choices = self.choices
        if choices is not None and isinstance(value, str) and value not in choices:
            raise ParameterError(self.name, "one of " + ", ".join(map(repr, choices)), value, where=where)
        b = self.bounds
        if b is None or not isinstance(value, int | float) or isinstance(value, bool):
            return value
        lo, hi, lo_in, hi_in = b
        ok = (value >= lo if lo_in else value > lo) and (value <= hi if hi_in else value < hi)
        if not ok:
            raise ParameterError(self.name, f"a number {_RANGE.search(self.help)[0]}", value, where=where)
        return value

    @property
    def kind(self) -> str:
        """The type a value must have: bool, int, float, str, date, list, dict or any (default None)."""
        d = self.default
        if isinstance(d, bool):
            return "bool"
        if isinstance(d, int):
            return "int"
        if isinstance(d, float):
            return "float"
        if isinstance(d, str):
            return "date" if _is_iso_date(d) else "str"
        if isinstance(d, list | tuple):
            return "list"
        if isinstance(d, dict):
            return "dict"
        return "any"


@dataclass
class NotebookSpec:
    """What the runner knows of a notebook before running it."""

    path: Path
    parameters: dict[str, Parameter]
    produces: list[str] = field(default_factory=list)
    consumes: list[str] = field(default_factory=list)
    #: the columns a user's table plays for this notebook (role → what it is, required or optional)
    roles: dict[str, str] = field(default_factory=dict)
    #: parameters whose values name columns of a user's table (checked against its header before any kernel)
    columns_from: list[str] = field(default_factory=list)
    #: for a source that is a folder of tables: the table whose columns those parameters name
    columns_table: str | None = None
    #: the notebook's loader, run on a user's data before any kernel (:mod:`cmlib.report.source_check`)
    source_check: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.stem


def _is_iso_date(s: str) -> bool:
    try:
        dt.date.fromisoformat(s)
    except ValueError:
        return False
    return len(s) == 10


def parameters_cell(nb: nbformat.NotebookNode):
    """The first code cell tagged ``parameters``, or None."""
    for cell in nb.cells:
        if cell.cell_type == "code" and PARAMETERS_TAG in cell.get("metadata", {}).get("tags", []):
            return cell
    return None


def read_spec(path: str | Path) -> NotebookSpec:
    """Parse a notebook's parameters cell (literal assignments only) and its cmlib metadata.

    The notebook metadata key ``cmlib`` may hold ``produces`` and ``consumes``: lists of artefact names
    that order notebooks inside a run.
    """
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    cell = parameters_cell(nb)
    if cell is None:
        raise ParameterError(
            "parameters", "a first code cell tagged 'parameters'", "no such cell", where=path.name
        )
    params: dict[str, Parameter] = {}
    lines = cell.source.splitlines()
    tree = ast.parse(cell.source)
    for node in tree.body:
        if not (
            isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
        ):
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
                target, value = node.target, node.value
            else:
                continue
        else:
            target, value = node.targets[0], node.value
        try:
            default = ast.literal_eval(value)
        except ValueError as exc:
            raise ParameterError(
                target.id, "a literal default value", ast.unparse(value), where=path.name
            ) from exc
        line = lines[node.lineno - 1]
        comment = line.split("#", 1)[1].strip() if "#" in line else ""
        params[target.id] = Parameter(target.id, default, comment)
    meta = nb.metadata.get("cmlib", {})
    return NotebookSpec(
        path,
        params,
        list(meta.get("produces", [])),
        list(meta.get("consumes", [])),
        dict(meta.get("roles", {})),
        list(meta.get("columns_from", [])),
        meta.get("columns_table"),
        dict(meta.get("source_check", {})),
    )


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _coerce_type(param: Parameter, value: Any, *, from_text: bool, where: str) -> Any:
    """Return ``value`` converted to the parameter's kind, or raise :class:`ParameterError`.

    ``from_text`` is True for values typed on the command line (always strings): they are parsed to
    the default's type (``true``→True, ``007`` stays ``'007'`` for a string default, lists as YAML).
    Values from a YAML file are already typed and are only checked (an int is accepted for a float).
    """
    kind = param.kind
    given = value  # the error shows what the user typed, not our parse of it

    def fail():
        return ParameterError(param.name, f"{kind} (default {param.default!r})", given, where=where)

    if from_text and isinstance(value, str):
        text = value.strip()
        if kind == "bool":
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise fail()
        if kind == "int":
            try:
                return int(text)
            except ValueError:
                raise fail() from None
        if kind == "float":
            try:
                return float(text)
            except ValueError:
                raise fail() from None
        if kind == "str":
            return value
        if kind == "date":
            if _is_iso_date(text):
                return text
            raise fail()
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            raise fail() from None
        if kind == "any":
            return value
    # typed values (from YAML, or parsed above)
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "float" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind == "str" and isinstance(value, str):
        return value
    if kind == "date":
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, str) and _is_iso_date(value):
            return value
    if kind == "list" and isinstance(value, list):
        return value
    if kind == "dict" and isinstance(value, dict):
        return value
    if kind == "any":
        return value
    raise fail()


def coerce(param: Parameter, value: Any, *, from_text: bool, where: str) -> Any:
    """Return ``value`` converted to the parameter's kind and checked against its declared range, or raise
    :class:`ParameterError`.

    ``from_text`` is True for values typed on the command line (always strings): they are parsed to
    the default's type (``true``→True, ``007`` stays ``'007'`` for a string default, lists as YAML).
    Values from a YAML file are already typed and are only checked (an int is accepted for a float).
    A range declared in the comment (``in (0, 1)``) is checked here, before any kernel starts.
    """
    return param.check_range(_coerce_type(param, value, from_text=from_text, where=where), where)


@dataclass
class RunParameters:
    """Parameters for a run: global ones (to every notebook that declares the name) and per notebook."""

    common: dict[str, Any] = field(default_factory=dict)
    per_notebook: dict[str, dict[str, Any]] = field(default_factory=dict)
    alerts: list[dict] = field(default_factory=list)
    common_from_text: set[str] = field(default_factory=set)
    per_from_text: set[tuple[str, str]] = field(default_factory=set)


def load_params_file(path: str | Path) -> RunParameters:
    """Read a params YAML file.

    Layout::

        parameters:            # given to every notebook that declares the name
          n_customers: 20000
        notebooks:             # per notebook (file stem)
          03_scoring_model: {pdo: 20}
        alerts:                # thresholds for reports/index.html; says: the alert in business words
          - {metric: 03_scoring_model.psi, above: 0.25, says: "the applicants have shifted"}
    """
    path = Path(path)
    if not path.is_file():
        what = "a YAML file, not a folder" if path.is_dir() else "an existing YAML file"
        raise ParameterError("-f", what, str(path))
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        if doc is None:  # an empty file (or comments only) would silently run every default
            raise ParameterError(
                "-f", "a params file with parameters, notebooks or alerts", f"{path.name}: empty"
            )
    except UnicodeDecodeError:
        raise ParameterError("-f", "a YAML text file (UTF-8)", f"{path.name}: binary content") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ParameterError("-f", "valid YAML", f"{path.name}: {problem}{where}") from None
    if not isinstance(doc, dict):
        raise ParameterError("-f", "a mapping with keys parameters/notebooks/alerts", type(doc).__name__)
    unknown = set(doc) - {"parameters", "notebooks", "alerts", "description"}
    if unknown:
        raise ParameterError(
            sorted(unknown)[0],
            "one of parameters, notebooks, alerts, description",
            "an unknown top-level key",
            where=path.name,
        )
    params, notebooks, alerts = (
        doc.get("parameters") or {},
        doc.get("notebooks") or {},
        doc.get("alerts") or [],
    )
    if not isinstance(params, dict):
        raise ParameterError("parameters", "a mapping of name: value", type(params).__name__, where=path.name)
    if not isinstance(notebooks, dict) or not all(isinstance(v, dict | None) for v in notebooks.values()):
        raise ParameterError(
            "notebooks", "a mapping of notebook: {name: value}", type(notebooks).__name__, where=path.name
        )
    if not isinstance(alerts, list):
        raise ParameterError(
            "alerts", "a list of {metric: NB.name, above: X}", type(alerts).__name__, where=path.name
        )
    for a in alerts:
        if not (
            isinstance(a, dict)
            and "metric" in a
            and ({"above", "below"} & set(a))
            and not set(a) - {"metric", "above", "below", "says"}
        ):
            raise ParameterError(
                "alerts",
                "items like {metric: NB.name, above: X} or {below: X}, optionally says: 'what it means'",
                a,
                where=path.name,
            )
    return RunParameters(dict(params), {k: dict(v or {}) for k, v in notebooks.items()}, list(alerts))


def add_cli_params(rp: RunParameters, pairs: list[tuple[str, str]]) -> RunParameters:
    """Add ``-p NAME VALUE`` pairs; ``-p NOTEBOOK.NAME VALUE`` sets one notebook only. CLI wins over file."""
    for name, value in pairs:
        if "." in name:
            nb, key = name.split(".", 1)
            rp.per_notebook.setdefault(nb, {})[key] = value
            rp.per_from_text.add((nb, key))
        else:
            rp.common[name] = value
            rp.common_from_text.add(name)
    return rp


def validate_parameters(
    specs: list[NotebookSpec], rp: RunParameters, all_specs: list[NotebookSpec] | None = None
) -> dict[str, dict[str, Any]]:
    """Resolve and type-check the parameters of each notebook; return {notebook name: parameters}.

    A common name typed with ``-p`` must be declared by at least one selected notebook; one from a params
    file by at least one notebook of the folder (``all_specs``: a shared file such as smoke.yaml names
    parameters of every notebook). A per-notebook name must be declared by that notebook. Anything else
    raises :class:`ParameterError` naming the notebook(s), the parameter, the expected type and the value.
    """
    names = {s.name for s in specs}
    every = {s.name: s for s in (all_specs or specs)} | {s.name: s for s in specs}
    for nb in rp.per_notebook:
        if nb not in every:
            raise ParameterError(f"{nb}.*", f"a notebook of this folder ({', '.join(sorted(every))})", nb)
    for key, value in rp.common.items():
        pool = specs if key in rp.common_from_text else every.values()
        if not any(key in s.parameters for s in pool):
            where = ", ".join(sorted(names))
            raise ParameterError(
                key, "a name declared in the parameters cell", value, where=f"unknown parameter in {where}"
            )
    out: dict[str, dict[str, Any]] = {}
    for s in specs:
        resolved: dict[str, Any] = {}
        for key, value in rp.common.items():
            if key in s.parameters:
                resolved[key] = coerce(
                    s.parameters[key], value, from_text=key in rp.common_from_text, where=s.name
                )
        for key, value in rp.per_notebook.get(s.name, {}).items():
            if key not in s.parameters:
                raise ParameterError(
                    key,
                    "a name declared in the parameters cell",
                    value,
                    where=f"unknown parameter in {s.name}",
                )
            resolved[key] = coerce(
                s.parameters[key], value, from_text=(s.name, key) in rp.per_from_text, where=s.name
            )
        out[s.name] = resolved
    return out
