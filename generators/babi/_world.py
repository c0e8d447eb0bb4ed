"""Sentence shapes shared by the tasks set in the basic world (actors, rooms, objects).

The verbs and their paraphrases are the release's (read from the bAbI v1.2 English files; the
shapes and their counts per task are in ``release_stats.json``, "templates"); each task draws
among them with the frequencies its released file shows.
"""

from __future__ import annotations

MOVE = (
    "{0} moved to the {1}.",
    "{0} went to the {1}.",
    "{0} journeyed to the {1}.",
    "{0} travelled to the {1}.",
    "{0} went back to the {1}.",
)
GET = ("{0} got the {1}.", "{0} grabbed the {1}.", "{0} picked up the {1}.", "{0} took the {1}.")
GET_THERE = tuple(t.replace(".", " there.") for t in GET)
DROP = (
    "{0} dropped the {1}.", "{0} put down the {1}.", "{0} left the {1}.", "{0} discarded the {1}.",
)  # fmt: skip
DROP_THERE = tuple(t.replace(".", " there.") for t in DROP)
GIVE = ("{0} gave the {1} to {2}.", "{0} handed the {1} to {2}.", "{0} passed the {1} to {2}.")
