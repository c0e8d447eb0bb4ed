"""The data cards agree with the code: every task has a card whose header, knob table, presets
and example episodes are what the registry and the generators say now (data_cards/README.md)."""

from __future__ import annotations

import importlib.util
import re
import shlex
import sys
from pathlib import Path

import pytest
from huggingface_hub import DatasetCard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import memtasks
from memtasks.errors import KnobError

CARDS = Path(__file__).resolve().parent.parent / "data_cards"
TASKS = memtasks.list_tasks()

REQUIRED_FIELDS = (
    "pretty_name",
    "task_id",
    "license",
    "task_categories",
    "tags",
    "source_datasets",
    "paper",
)
# Sections every task card has, in this order ("Presets" only where the task has presets).
SECTIONS = (
    "Description",
    "Episode layout",
    "Knobs",
    "Presets",
    "What is ours and what is the paper's",
    "Example episode",
    "Metric",
    "How to generate",
    "Determinism",
    "Baselines",
    "Source and citation",
)
EXAMPLE = re.compile(
    r"<!--\s*example:\s*(?P<args>[^>]*?)\s*-->(?P<body>.*?)<!--\s*/example\s*-->", re.S
)
STATED_CALL = re.compile(r"`(?P<call>memtasks\.generate\(.*?\))\.pretty\(\)`")
FENCE = re.compile(r"```text\n(?P<text>.*?)\n```", re.S)
SHOW_COMMAND = re.compile(r"`(memtasks show [^`]*)`")
ASSIGNMENT = re.compile(r"`(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>[^`]*)`")


def _load_updater():
    path = CARDS / "update_examples.py"
    spec = importlib.util.spec_from_file_location("data_cards_update_examples", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


updater = _load_updater()


def card_text(task: str) -> str:
    return memtasks.get_spec(task).card.read_text(encoding="utf-8")


def newest_id(task: str) -> str:
    """The id a card names: the newest version of the task (all versions share one card)."""
    spec = memtasks.get_spec(task)
    return memtasks.get_spec(f"{spec.family}/{spec.name}").id


# A card documents the newest version of its task (its tables, presets and examples are that
# version's); an older version kept generable is named in it with why it was superseded.
NEWEST = [t for t in TASKS if newest_id(t) == t]
SUPERSEDED = [t for t in TASKS if memtasks.get_spec(t).superseded_by]


def sections(text: str) -> dict[str, str]:
    """``## Heading`` -> the text up to the next ``## `` heading."""
    out, name, lines = {}, None, []
    for line in text.splitlines():
        if line.startswith("## "):
            if name is not None:
                out[name] = "\n".join(lines)
            name, lines = line[3:].strip(), []
        elif name is not None:
            lines.append(line)
    if name is not None:
        out[name] = "\n".join(lines)
    return out


def table_rows(section: str) -> dict[str, list[str]]:
    """Rows of the Markdown table in ``section``, keyed by their first cell without backticks."""
    rows = {}
    for line in section.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        first = cells[0]
        if set(first) <= set("-: ") or not first.startswith("`"):  # separator or header row
            continue
        rows[first.strip("`")] = cells
    return rows


# -- every task has a card with a valid header ----------------------------------------------------
def test_tasks_are_registered():
    assert TASKS, "no task is registered: the cards would be checked against nothing"


@pytest.mark.parametrize("task", TASKS)
def test_card_exists_at_the_spec_path(task):
    card = memtasks.get_spec(task).card
    spec = memtasks.get_spec(task)
    assert card == CARDS / spec.family / f"{spec.name}.md"
    assert card.is_file(), f"{task} has no card at {card}"


@pytest.mark.parametrize("task", TASKS)
def test_header_parses_and_names_the_task(task):
    data = DatasetCard(card_text(task)).data.to_dict()
    missing = [f for f in REQUIRED_FIELDS if not data.get(f)]
    assert not missing, f"{task}: card header lacks {missing}"
    assert data["task_id"] == newest_id(task)
    assert data["license"] == "mit"
    assert "memory" in data["tags"]
    assert isinstance(data["source_datasets"], list)
    assert isinstance(data["task_categories"], list)


@pytest.mark.parametrize("task", TASKS)
def test_sections_are_present_in_order(task):
    spec = memtasks.get_spec(task)
    expected = [s for s in SECTIONS if s != "Presets" or spec.presets]
    found = [s for s in sections(card_text(task)) if s in SECTIONS]
    assert found == expected


def test_every_card_with_a_task_id_names_a_registered_task():
    newest = {newest_id(t) for t in TASKS}
    cards = [p for p in CARDS.rglob("*.md") if p.name != "README.md"]
    assert cards
    for path in cards:
        data = DatasetCard(path.read_text(encoding="utf-8")).data.to_dict()
        if "task_id" in data:  # cards of real datasets have none
            assert data["task_id"] in newest, f"{path} describes an unknown task"
            assert memtasks.get_spec(data["task_id"]).card == path


def test_readme_describes_the_header_fields():
    readme = (CARDS / "README.md").read_text(encoding="utf-8")
    for field in REQUIRED_FIELDS:
        assert f"`{field}`" in readme
    assert "data_cards/<family>/<name>.md" in readme


# -- knobs and presets ----------------------------------------------------------------------------
def _type_name(info) -> str:
    return f"tuple[{info.elem.__name__}]" if info.kind is tuple else info.kind.__name__


def check_knob_rows(task: str, rows: dict[str, list[str]]) -> None:
    """The rows of a knob table state the code's knobs: names, types, defaults and ranges."""
    spec = memtasks.get_spec(task)
    infos = spec.knobs.infos()
    assert set(rows) == set(infos), f"{task}: knob table rows differ from the knobs"
    for name, (default, info) in infos.items():
        _, kind, shown_default, allowed, meaning = rows[name][:5]
        assert kind == _type_name(info), f"{task}.{name}: type"
        shown_default = shown_default.strip("`")
        if shown_default == "()":
            assert default == ()
        else:
            assert spec.knobs.parse(name, shown_default) == default, f"{task}.{name}: default"
        if info.choices is not None:
            assert all(str(c) in allowed for c in info.choices), f"{task}.{name}: choices"
        elif info.lo is not None and info.hi is not None:
            assert f"{info.lo:g}..{info.hi:g}" in allowed, f"{task}.{name}: range"
        assert meaning, f"{task}.{name}: the meaning is empty"


@pytest.mark.parametrize("task", NEWEST)
def test_knob_table_matches_the_code(task):
    # all versions share one card, whose table states the newest version's knobs; an older
    # version's knobs are among them (a later version may add one, as world/qa-v2's `exact`)
    rows = table_rows(sections(card_text(task))["Knobs"])
    check_knob_rows(newest_id(task), rows)
    assert set(memtasks.get_spec(task).knobs.infos()) <= set(rows), f"{task}: knobs not stated"


def test_knob_table_printer_rows_pass_the_card_checks():
    for task in NEWEST:
        check_knob_rows(task, table_rows(updater.knob_table(task)))


@pytest.mark.parametrize("task", SUPERSEDED)
def test_a_superseded_version_is_named_in_the_card_with_why(task):
    """The card of a task documents its newest version; an older one kept generable is named
    there, with the version that replaced it and why (the registry's ``superseded_why``)."""
    spec = memtasks.get_spec(task)
    text = " ".join(card_text(task).split())
    assert memtasks.get_spec(spec.superseded_by).version > spec.version
    assert f"`{task}` is kept generable" in text, f"{task}: the card does not name it"
    assert f"superseded by `{spec.superseded_by}`" in text
    assert " ".join(spec.superseded_why.split()) in text, f"{task}: the card lacks its why"
    # and its knobs are still the card's knobs (a later version only adds some)
    assert set(spec.knobs.infos()) <= set(table_rows(sections(card_text(task))["Knobs"]))


@pytest.mark.parametrize("task", [t for t in NEWEST if memtasks.get_spec(t).presets])
def test_preset_table_matches_the_code(task):
    spec = memtasks.get_spec(task)
    rows = table_rows(sections(card_text(task))["Presets"])
    assert set(rows) == set(spec.presets), f"{task}: preset table rows differ from the presets"
    for name, values in spec.presets.items():
        stated = {m["name"]: spec.knobs.parse(m["name"], m["value"]) for m in
                  ASSIGNMENT.finditer(rows[name][1])}  # fmt: skip
        assert set(stated) == set(values), f"{task} preset {name}: knobs named"
        assert spec.make_knobs(None, **stated) == spec.make_knobs(name), f"{task} preset {name}"


# -- examples -------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", NEWEST)
def test_examples_print_what_the_code_prints_now(task):
    text = card_text(task)
    blocks = list(EXAMPLE.finditer(text))
    assert blocks, f"{task}: the card has no <!-- example: ... --> block"
    for block in blocks:
        call = updater.parse_marker(block["args"])
        assert call.task == newest_id(task), f"{task}: an example of another task"
        fence = FENCE.search(block["body"])
        stated = STATED_CALL.search(block["body"])
        assert fence and stated, f"{task}: an example block needs the call and a text fence"
        # the call as the card states it, run as Python, prints exactly the fenced text
        batch = eval(stated["call"], {"memtasks": memtasks, "__builtins__": {}})
        assert batch.pretty() == fence["text"], f"{task}: stale example; run update_examples.py"
        # and the marker describes that same call
        assert call.generate().equals(batch)
    assert updater.update_text(text) == text


@pytest.mark.parametrize("task", NEWEST)
def test_stated_show_commands_print_the_example(task, capsys):
    from memtasks.cli import main

    text = card_text(task)
    fences = [FENCE.search(block["body"])["text"] for block in EXAMPLE.finditer(text)]
    commands = SHOW_COMMAND.findall(" ".join(text.split()))  # commands may wrap across lines
    for command in commands:
        capsys.readouterr()
        main(shlex.split(command)[1:])
        assert capsys.readouterr().out.rstrip("\n") in fences, f"{task}: `{command}`"


_NO_MARKUP = st.text(
    alphabet=st.characters(blacklist_characters="<>", blacklist_categories=("Cs",)), max_size=120
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(task=st.sampled_from(NEWEST), junk=_NO_MARKUP)
def test_update_restores_a_stale_example_and_nothing_else(task, junk):
    text = card_text(task)

    def spoil(match: re.Match) -> str:
        whole, at = match[0], match.start()
        return whole[: match.start("body") - at] + junk + whole[match.end("body") - at :]

    stale = EXAMPLE.sub(spoil, text)
    assert updater.update_text(stale) == text


def test_check_reports_a_stale_card_and_update_fixes_it(tmp_path, capsys):
    original = card_text("ntm/copy-v1")
    path = tmp_path / "copy.md"
    path.write_text(original.replace("roles: context", "roles: CONTEXT", 1), encoding="utf-8")
    assert updater.main(["--check", str(path)]) == 1
    assert "stale" in capsys.readouterr().out
    assert path.read_text(encoding="utf-8") != original  # --check writes nothing
    assert updater.main([str(path)]) == 0
    assert path.read_text(encoding="utf-8") == original
    assert updater.main(["--check", str(path)]) == 0


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**64 - 1),
    max_length=st.integers(1, 50),
    lengths=st.lists(st.integers(1, 50), max_size=4).map(tuple),
)
def test_marker_round_trips_values(seed, max_length, lengths):
    args = (
        f"ntm/copy-v1 seed={seed} max_length={max_length} lengths={updater.format_value(lengths)}"
    )
    if not lengths:  # an empty list is written by leaving the knob out
        args = args.rsplit(" ", 1)[0]
    call = updater.parse_marker(args)
    assert call.arguments == {"seed": seed}
    assert call.knobs.get("max_length") == max_length
    assert call.knobs.get("lengths", ()) == lengths
    # the Python the card states is the marker's call
    stated = eval(call.python(), {"memtasks": memtasks, "__builtins__": {}})
    assert stated.equals(call.generate())


@pytest.mark.parametrize(
    "args, error",
    [
        ("", ValueError),
        ("ntm/copy-v1 max_length", ValueError),
        ("ntm/copy-v1 max_lenght=4", KnobError),
        ("ntm/copy-v1 max_length=four", KnobError),
        ("ntm/no-such-task-v1 seed=0", memtasks.UnknownTaskError),
    ],
)
def test_bad_markers_are_refused(args, error):
    with pytest.raises(error):
        updater.parse_marker(args)
