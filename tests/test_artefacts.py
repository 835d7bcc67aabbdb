"""Versioned JSON artefacts: one writer and one reader for every artefact kind."""

from __future__ import annotations

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
