"""The bAbI world simulator: the 20 QA tasks of Weston et al. (2015) and the simulated-world QA
of Weston et al. (2014), compiled with Numba.

Importing this package registers ``babi/qa1-v1`` ... ``babi/qa20-v1`` and ``world/qa-v1``.
How a task is built: ``_task`` (knobs, registration), ``_story`` (lines and the compiled
driver), ``_text`` (vocabulary and templates); one module per task (``qa1.py`` ...).
"""

from importlib import import_module
from pathlib import Path

# one module per task; registered in this order
_MODULES = (*(f"qa{n}" for n in range(1, 21)), "world_qa")
for _name in _MODULES:
    if (Path(__file__).parent / f"{_name}.py").exists():  # TEMPORARY while tasks are written
        import_module(f"{__name__}.{_name}")
