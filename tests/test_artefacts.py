"""Versioned JSON artefacts: one writer and one reader for every artefact kind."""

from __future__ import annotations

import json

import pytest

from cmlib.artefacts import artefact_document, read_artefact, write_artefact
from cmlib.errors import ArtefactError


def test_roundtrip_and_every_way_to_be_wrong(tmp_path):
    p = write_artefact(tmp_path / "a.json", artefact_document("thing", 2, value=1.5, items=[1, 2]))
    assert read_artefact(p, "thing", 2, required=("value",))["items"] == [1, 2]
    assert read_artefact(p.read_text(), "thing", 2)["value"] == 1.5  # JSON text works as well as a path
    with pytest.raises(ArtefactError, match="not found"):
        read_artefact(tmp_path / "missing.json", "thing", 2)
    with pytest.raises(ArtefactError, match="expected kind 'thing' schema 3"):
        read_artefact(p, "thing", 3)
    with pytest.raises(ArtefactError, match="lacks other"):
        read_artefact(p, "thing", 2, required=("other",))
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ArtefactError, match="expected a JSON object, got list"):
        read_artefact(tmp_path / "list.json", "thing", 2)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ArtefactError, match="not valid JSON"):
        read_artefact(tmp_path / "bad.json", "thing", 2)
    with pytest.raises(ValueError):  # NaN is not JSON: refused rather than written
        write_artefact(tmp_path / "nan.json", artefact_document("thing", 2, value=float("nan")))


def test_an_implausible_number_is_refused_naming_the_field(tmp_path):
    import json

    from cmlib.artefacts import artefact_document, read_artefact, write_artefact
    from cmlib.errors import ArtefactError

    doc = artefact_document("thing", 1, model={"bins": [{"points": 12.0}, {"points": 3.0}]}, ok=True)
    path = write_artefact(tmp_path / "t.json", doc)
    assert read_artefact(path, "thing", 1)["model"]["bins"][1]["points"] == 3.0
    doc["model"]["bins"][1]["points"] = 1e308
    path.write_text(json.dumps(doc))
    with pytest.raises(ArtefactError, match=r"t\.json: model\.bins\[1\]\.points is 1e\+308"):
        read_artefact(path, "thing", 1)
    path.write_text(json.dumps(doc).replace("1e+308", "NaN"))
    with pytest.raises(ArtefactError, match="points is nan"):
        read_artefact(path, "thing", 1)


def test_a_missing_artefact_is_distinguishable_from_a_damaged_one(tmp_path):
    from cmlib.errors import ArtefactMissing

    with pytest.raises(ArtefactMissing, match="not found"):
        read_artefact(tmp_path / "nowhere.json", "thing", 1)
    (tmp_path / "cut.json").write_text('{"kind": "thi')
    with pytest.raises(ArtefactError) as err:
        read_artefact(tmp_path / "cut.json", "thing", 1)
    assert not isinstance(err.value, ArtefactMissing)  # damaged: a notebook must not fall back quietly


def test_numbers_out_of_their_range_and_binary_files_are_refused_naming_the_field(tmp_path):
    """#16 probes: a discount rate of 9, a value per booking of -1e9, a negative pdo or a cutoff "high" were read
    and changed the numbers of the reports that read them; a binary file raised UnicodeDecodeError (exit 1)."""
    ranges = {"params.pdo": (1, 200), "arms.*.value": (-1e6, 1e6), "meta.cutoff": (-1e6, 1e6, "or null")}
    doc = artefact_document("thing", 1, params={"pdo": 20}, arms=[{"value": 3.0}, {"value": 4.0}], meta={})
    assert read_artefact(doc, "thing", 1, ranges=ranges) is doc  # an absent optional field is not checked
    doc["meta"]["cutoff"] = None
    assert read_artefact(doc, "thing", 1, ranges=ranges) is doc
    for path, value, says in [
        ("params.pdo", -20, r"params\.pdo must be a number in \[1, 200\], got -20"),
        (
            "arms.1.value",
            -1e9,
            r"arms\[1\]\.value must be a number in \[-1e\+06, 1e\+06\], got -1000000000\.0",
        ),
        ("meta.cutoff", "high", r"meta\.cutoff must be a number in \[-1e\+06, 1e\+06\], got 'high'"),
        ("params.pdo", True, "got True"),
    ]:
        bad = json.loads(json.dumps(doc))
        *head, last = path.split(".")
        node = bad
        for k in head:
            node = node[int(k)] if k.isdigit() else node[k]
        node[int(last) if last.isdigit() else last] = value
        with pytest.raises(ArtefactError, match=says):
            read_artefact(bad, "thing", 1, ranges=ranges)
    (tmp_path / "binary.json").write_bytes(b"\xcd\xff\x00\x01")
    with pytest.raises(ArtefactError, match="binary.json is not valid JSON: not UTF-8 text"):
        read_artefact(tmp_path / "binary.json", "thing", 1)


def test_each_artefact_kind_declares_its_ranges(tmp_path):
    """The decision and the scorecard refuse the probes' edited values by name (the account-value model's
    ranges, a discount rate of 9 among them, are tested with the model)."""
    from cmlib.experiments import read_decision
    from cmlib.scorecard import load_scorecard

    # a decision on a user's contacts without product terms is not valued: its nulls are not out of range
    unvalued = {
        "arms": [{"arm": "b", "decision": "ship", "value_per_contact": None}],
        "control": "a",
        "terms": [],
        "valued": False,
        "horizon_months": None,
        "value_per_booking": {"a": None},
    }
    assert read_decision(artefact_document("decision", 1, **unvalued))[1]["horizon_months"] is None
    decision = {"arms": [], "control": "control", "terms": [], "value_per_booking": {"control": -1e9}}
    with pytest.raises(ArtefactError, match="value_per_booking.control must be a number in"):
        read_decision(artefact_document("decision", 1, **decision))
    card = {"params": {"pdo": -20, "base_score": 600, "base_odds": 50}, "features": [{"feature": "x"}]}
    with pytest.raises(ArtefactError, match="params.pdo must be a number in"):
        load_scorecard(artefact_document("scorecard", 1, **card))
