"""The bAbI world simulator: the 20 QA tasks of Weston et al. (2015) and the simulated-world QA
of Weston et al. (2014), compiled with Numba.

Importing this package registers ``babi/qa1-v1`` ... ``babi/qa20-v1``, ``babi/joint-v1`` (all 20
in one stream), ``world/qa-v1`` and ``world/qa-v2``; ``babi/qa5-v2``, ``qa14-v2``, ``qa16-v2``
and ``joint-v2`` supersede their v1 (issue 13: questions after facts that disagree, as the
release asks them), as ``world/qa-v2`` supersedes ``world/qa-v1`` (the paper's "within the
last k").

How a task is built: ``_task`` (knobs, registration), ``_story`` (lines and the compiled
driver), ``_text`` (vocabulary and templates); one module per task (``qa1.py`` ...), with
worlds shared by several tasks in ``_objects`` (2, 3, 6), ``_carry`` (5, 7, 8), ``_movement``
(9-14) and ``_geometry`` (4, 17, 19). ``fidelity`` compares ``release`` data with the release.
"""

from importlib import import_module

# importing a task module registers its task
TASK_MODULES = (*(f"qa{n}" for n in range(1, 21)), "world_qa", "joint")
for _name in TASK_MODULES:
    import_module(f"{__name__}.{_name}")
