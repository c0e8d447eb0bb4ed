"""The model registry: its own module with no upward imports, models found through entry points,
and named variants (paper configurations) that are valid for their model and task."""

from __future__ import annotations

import ast
import importlib.metadata
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

import memtasks  # noqa: E402
from memtasks.errors import MemtasksError  # noqa: E402
from memtasks.models import (  # noqa: E402
    UnknownModelError,
    Variant,
    create,
    get_model,
    get_variant,
    list_models,
    list_variants,
    make_hparams,
    register_variant,
    registry,
)

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "reference_models"
tomllib = pytest.importorskip("tomllib")


def _relative_imports(path: Path) -> list[str]:
    """Modules a file imports relative to its package, as ``.name`` (``.`` for the package)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                found.append("." + (node.module or ""))
            elif node.module and node.module.startswith("memtasks.models"):
                found.append(node.module)
    return found


@pytest.mark.parametrize("path", sorted(MODELS.glob("*.py")), ids=lambda p: p.name)
def test_no_model_file_imports_the_package_face(path):
    if path.name == "__init__.py":
        return
    imports = _relative_imports(path)
    assert "." not in imports and "memtasks.models" not in imports, imports


def test_the_package_face_only_re_exports():
    tree = ast.parse((MODELS / "__init__.py").read_text())
    kinds = {type(node).__name__ for node in tree.body}
    assert kinds <= {"Expr", "ImportFrom", "Assign"}, kinds  # docstring, imports, __all__


def test_entry_points_declare_the_built_in_models():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert tuple(declared[registry.ENTRY_POINT_GROUP].values()) == registry.BUILTIN_MODELS


def test_a_model_module_from_an_entry_point_is_imported_and_a_broken_one_warns(
    monkeypatch, tmp_path
):
    """Another distribution's models come in through the group memtasks.models (one loader for
    every group: memtasks.plugins); its broken module is one warning, not a crash."""
    from memtasks import plugins

    (tmp_path / "my_models.py").write_text("LOADED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    class Point:
        def __init__(self, name, value):
            self.name, self.value, self.dist = name, value, None

    points = [Point("mine", "my_models"), Point("broken", "no_such_models_module")]
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: points)
    with pytest.warns(RuntimeWarning, match=r"model module 'broken' \(no_such_models_module"):
        found = plugins.import_plugins(registry.ENTRY_POINT_GROUP, "model module", ("json",))
    # built-in first, in their order; then by entry point name (broken < mine)
    assert [p.module for p in found] == ["json", "no_such_models_module", "my_models"]
    assert sys.modules["my_models"].LOADED


@pytest.mark.parametrize("name", list_variants())
def test_every_variant_is_valid_for_its_model_and_task(name):
    variant = get_variant(name)
    assert variant.model in list_models() and get_model(name) is get_model(variant.model)
    hp = make_hparams(name)
    for key, value in variant.hparams.items():
        assert getattr(hp, key) == value, key
    spec = memtasks.get_spec(variant.task)
    spec.make_knobs(**variant.knobs)  # raises on a knob the task does not have
    assert variant.source and "shared/" not in variant.source
    cls = get_model(variant.model)
    cls.optimizer.replace(**variant.optimizer)  # raises on a field OptimizerSettings lacks


def test_create_builds_a_variant_with_hparams_on_top():
    model = create("ntm.copy", "ntm/copy-v1", memory_size=16)
    assert model.hp.memory_size == 16 and model.hp.controller_size == 100
    assert make_hparams("memn2n.babi-1k-joint").embed_size == 50


@pytest.mark.parametrize(
    "name, message",
    [
        ("memn2n.babi-2k", "unknown variant 'memn2n.babi-2k' (did you mean 'memn2n.babi-1k'?)"),
        ("lstn", "unknown model 'lstn' (did you mean 'lstm'?); models are: rnn, lstm"),
        ("nope.x", "unknown model 'nope.x'"),
    ],
)
def test_unknown_names_are_one_line(name, message):
    with pytest.raises(UnknownModelError) as info:
        get_model(name)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)
    assert isinstance(info.value, MemtasksError)


def test_register_variant_refuses_what_would_fail_later():
    with pytest.raises(ValueError, match="MODEL.CONFIG"):
        register_variant(Variant("lstm", summary="", source="x"))
    with pytest.raises(ValueError, match="register the model 'nomodel' first"):
        register_variant(Variant("nomodel.x", summary="", source="x"))
    with pytest.raises(ValueError, match="must cite"):
        register_variant(Variant("lstm.unsourced", summary="", source=""))
    with pytest.raises(MemtasksError, match="lstm has no hyperparameter 'hiden_size'"):
        register_variant(Variant("lstm.typo", summary="", source="x", hparams={"hiden_size": 1}))
    assert "lstm.typo" not in list_variants()
