"""Formats are plug-ins (memtasks/formats): the core knows parquet and jsonl, a family adds its
own (the bAbI text), options are declared by the format and checked in one line, and no module
of the core names a family."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import memtasks
from memtasks import formats, storage
from memtasks.errors import MemtasksError
from memtasks.formats import Format, FormatOption, check_options, get_format, register_format
from memtasks.formats.jsonl import JsonlFormat

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ("babi", "ntm", "ptb", "world")


@pytest.mark.parametrize("module", ["memtasks/storage.py", "memtasks/show.py", "memtasks/cli.py"])
def test_no_core_module_names_a_family(module):
    text = (ROOT / module).read_text(encoding="utf-8")
    for family in FAMILIES:
        assert not re.search(rf"\b{family}\b", text, re.IGNORECASE), (module, family)


def test_the_core_formats_come_first_and_the_familys_text_is_found():
    assert formats.names()[:2] == ["parquet", "jsonl"]
    text = get_format("babi")
    assert text.single_file and text.lossy and "shuffled" in text.options
    with pytest.raises(MemtasksError, match="format must be one of parquet, jsonl.*got 'csv'"):
        get_format("csv")


def test_options_are_parsed_and_refused_in_one_line():
    text = get_format("babi")
    assert check_options(text, {"shuffled": "true"}) == {"shuffled": True}
    assert check_options(text, {}) == {"shuffled": False}
    for values, needle in (
        ({"shuffled": "maybe"}, "option shuffled must be true or false, got 'maybe'"),
        ({"shufled": True}, "did you mean 'shuffled'"),
        ({"colour": 1}, "has no option 'colour'; its options: shuffled"),
    ):
        with pytest.raises(MemtasksError, match=re.escape(needle)):
            check_options(text, values)
    with pytest.raises(MemtasksError, match="shuffled applies to format 'babi' only, not 'jsonl'"):
        check_options(get_format("jsonl"), {"shuffled": True})


class _PrettyJson(JsonlFormat):
    """JSON lines with sorted keys (a plug-in's own format, for this test)."""

    name = "pretty-jsonl"
    options = {"indent": FormatOption("indent", int, 0, "spaces (ignored: one line each)")}


def test_a_registered_format_writes_reads_and_verifies(tmp_path):
    register_format(_PrettyJson())
    made = storage.write_dataset(tmp_path / "d", "ntm/copy-v1", 12, format="pretty-jsonl",
                                 indent="2")  # fmt: skip
    assert made["format"] == "pretty-jsonl"
    assert [f["path"] for f in made["files"]] == ["data/train-00000-of-00001.jsonl"]
    assert storage.read_dataset(tmp_path / "d").equals(memtasks.generate("ntm/copy-v1", 12))
    assert storage.check_dataset(tmp_path / "d").regenerated == 12
    manifest = json.loads((tmp_path / "d" / storage.MANIFEST).read_text())
    assert manifest["content_hash"] == made["content_hash"]


def test_register_format_takes_a_format():
    with pytest.raises(TypeError):
        register_format("parquet")

    class Incomplete(Format):  # no write, no read: cannot be made at all
        name = "incomplete"
        suffix = "inc"

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()

    class Other(type(get_format("parquet"))):
        name = "parquet"
        suffix = "pq"

    with pytest.raises(ValueError, match="registered twice"):
        register_format(Other())
