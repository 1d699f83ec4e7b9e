from __future__ import annotations

from pathlib import Path

import pytest

from tfy_gateway.manifests import ManifestLoadError, load_file, load_text


def test_positions_of_keys_and_values_are_one_based() -> None:
    (doc,) = load_text("name: x\ntype: team\nmembers:\n  - a@example.com\n", "t.yaml")
    assert doc.keys[("members",)] == (3, 1)
    assert doc.values[("members", 0)] == (4, 5)
    assert doc.position(("members", 7)) == (4, 3)  # a missing index falls back to the list


def test_multi_document_stream_and_top_level_list() -> None:
    docs = load_text("name: a\ntype: team\n---\n- name: b\n  type: team\n- name: c\n  type: team\n")
    assert [(d.index, d.data["name"]) for d in docs] == [(0, "a"), (1, "b"), (2, "c")]
    assert docs[2].values[("name",)] == (6, 9)


def test_json_is_accepted() -> None:
    (doc,) = load_text('{\n\t"name": "x",\n\t"type": "team",\n\t"members": []\n}', "t.json")
    assert doc.data == {"name": "x", "type": "team", "members": []}


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [("name: [a\ntype: b\n", 2, 5), ("a: 1\n b: 2\n", 2, 3), ("key: 'unterminated\n", 2, 1)],
)
def test_broken_yaml_reports_line_and_column(text: str, line: int, column: int) -> None:
    with pytest.raises(ManifestLoadError) as caught:
        load_text(text, "broken.yaml")
    found = caught.value.finding
    assert (found.file, found.line, found.column, found.severity) == ("broken.yaml", line, column, "error")
    assert found.message.startswith("invalid YAML")


def test_duplicate_keys_are_recorded() -> None:
    (doc,) = load_text("name: a\ntype: team\nname: b\nmembers: []\n")
    assert doc.duplicate_keys == [("name",)]


def test_empty_file_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestLoadError, match="empty"):
        load_text("# nothing\n")
    with pytest.raises(ManifestLoadError, match="file not found"):
        load_file(tmp_path / "nope.yaml")


def test_anchors_merge_keys_and_yaml_1_1_scalars_read_as_pyyaml_does() -> None:
    import yaml

    text = "base: &b {a: 1, b: yes, c: on, d: 0x10, g: ~, h: '1'}\nm:\n  <<: *b\n  a: 2\nl: [*b, 3.5, .inf]\n"
    (doc,) = load_text(text)
    assert doc.data == yaml.safe_load(text)
    assert doc.data["m"]["a"] == 2 and doc.data["m"]["b"] is True


def test_complex_keys_are_a_located_error() -> None:
    with pytest.raises(ManifestLoadError, match="complex mapping keys"):
        load_text("? [a]\n: 1\n")
