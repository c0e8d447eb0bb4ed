"""Entry points: how the families, models and evaluation hooks of memtasks and of other
distributions are found (DESIGN.md, layout). One loader for the three groups, so that a broken
plug-in is treated the same way everywhere: memtasks' own failure is a bug and is raised whole;
another distribution's is one warning, and that plug-in is skipped."""

from __future__ import annotations

import importlib
import importlib.metadata
import warnings
from collections.abc import Iterable
from typing import NamedTuple


class Plugin(NamedTuple):
    name: str  # the entry point's name (a family, a model...)
    module: str  # what importing registers
    own: bool  # declared by memtasks itself


def plugins(group: str) -> list[Plugin]:
    """The installed entry points of ``group``: memtasks' own first, each part in name order, so
    that listings never depend on the order site-packages happens to list distributions in."""
    try:
        points = importlib.metadata.entry_points(group=group)
    except Exception:  # another distribution's broken metadata must not break memtasks
        points = ()
    found = []
    for point in points:
        dist = getattr(point, "dist", None)
        own = dist is not None and (dist.metadata["Name"] or "").lower() == "memtasks"
        found.append(Plugin(point.name, point.value.split(":")[0], own))
    return sorted(found, key=lambda p: (not p.own, p.name, p.module))


def import_plugins(group: str, what: str, builtin: Iterable[str] = ()) -> list[Plugin]:
    """Import the ``builtin`` modules, then every module ``group`` names; what was found.

    ``builtin`` modules are imported first and in their order (a fixed listing order, and found
    even where no package metadata is installed); ``what`` names a plug-in in the warning."""
    found = [Plugin(module, module, True) for module in builtin]
    found += [p for p in plugins(group) if p.module not in set(builtin)]
    for plugin in found:
        try:
            importlib.import_module(plugin.module)
        except Exception as exc:
            if plugin.own:
                raise
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            warnings.warn(
                f"memtasks: {what} {plugin.name!r} ({plugin.module}, entry point group {group}) "
                f"failed to import and is skipped: {text}",
                RuntimeWarning,
                stacklevel=3,
            )
    return found
