"""The wire contracts outside the messages themselves: ids, trace context, topic names, S3 URIs,
and the JSON schema export (committed files, docs and the CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import schemas
from catalens.cli.main import app
from catalens.cli.schemas_cmd import DEFAULT_DOCS, DEFAULT_JSON_DIR
from schemas.export import stale_files


def test_a_child_span_stays_in_its_parents_trace() -> None:
    parent = schemas.new_traceparent()
    child = schemas.child_traceparent(parent)
    assert child.split("-")[1] == parent.split("-")[1] and child != parent


def test_ids_are_stable_across_runs_and_machines() -> None:
    assert schemas.image_id_from_bytes(b"abc") == "ba7816bf8f01cfea414140de5dae2223"
    assert schemas.image_id_from_object("b", "k.jpg", '"e1"') == schemas.image_id_from_object(
        "b", "k.jpg", "e1"
    )
    oid = schemas.object_id("img", "object", (1, 2, 3, 4), "shoe")
    assert oid == schemas.object_id("img", "object", [np.int64(1), 2, 3, 4], "shoe")  # type: ignore[list-item]
    assert oid != schemas.object_id("img", "object", (1, 2, 3, 5), "shoe")
    assert oid != schemas.object_id("img", "image", (1, 2, 3, 4), "shoe")
    with pytest.raises(TypeError):
        schemas.object_id("img", "object", (1.0, 2, 3, 4), "shoe")  # type: ignore[arg-type]


def test_dead_letter_topics_sit_beside_their_topic() -> None:
    assert schemas.dlq(schemas.OBJECTS_DETECTED) == "objects.detected.dlq"


def test_an_object_key_with_spaces_travels_as_a_percent_encoded_uri_and_back():
    from schemas import ImageUploaded, ObjectsDetected
    from schemas.ids import s3_key, s3_uri

    uploaded = ImageUploaded(
        producer="s3",
        image_id="a" * 32,
        bucket="catalens",
        key="summer sale/red dress #2.jpg",
        etag="abc",
        size=10,
    )
    assert uploaded.uri == "s3://catalens/summer%20sale/red%20dress%20%232.jpg"
    detected = ObjectsDetected(
        producer="detector",
        image_id=uploaded.image_id,
        image_uri=uploaded.uri,
        width=10,
        height=10,
        detector={"backend": "b", "name": "n", "version": "v"},
        objects=[],
    )
    assert s3_key(detected.image_uri, "catalens") == "summer sale/red dress #2.jpg"
    assert s3_key(s3_uri("other", "x"), "catalens") is None


def test_the_committed_json_schemas_and_docs_match_a_fresh_export() -> None:
    assert stale_files(DEFAULT_JSON_DIR, DEFAULT_DOCS) == []


def test_the_cli_exports_one_schema_per_message_and_checks_for_drift(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["--out", str(tmp_path / "json"), "--docs", str(tmp_path / "schemas.md")]
    assert runner.invoke(app, ["schemas", "check", *args]).exit_code == 1
    result = runner.invoke(app, ["schemas", "export", *args])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "json").iterdir())
    framed = ["objects.embedded.frame.json"]  # the vector frame's header (`schemas.frames`)
    assert names == sorted([f"{t}.json" for t in schemas.EVENT_TYPES] + framed)
    schema = json.loads((tmp_path / "json" / "objects.embedded.json").read_text())
    assert {"event_id", "schema_version", "traceparent"} <= set(schema["required"])
    header = json.loads((tmp_path / "json" / framed[0]).read_text())
    assert "data" not in header["$defs"]["FrameVector"]["properties"]
    assert header["required"] == schema["required"]
    assert "| `vectors` |" in (tmp_path / "schemas.md").read_text()
    assert runner.invoke(app, ["schemas", "check", *args]).exit_code == 0
