"""Entity names: the release's, then more of each kind for open-vocabulary tests.

A pool knob (``actors=8``) takes the first names of a list, so the release's names always come
first and larger pools only add words the release never uses. Extra names were chosen to be
unambiguous single words that are not English verbs or rooms' homonyms.
"""

from __future__ import annotations

# tasks 1-3, 6-9, 11-13 (world_basic)
ACTORS = ("Mary", "John", "Sandra", "Daniel")
ROOMS = ("bathroom", "bedroom", "garden", "hallway", "kitchen", "office")
OBJECTS = ("apple", "football", "milk")

EXTRA_ACTORS = (
    "Alice", "Oliver", "Emma", "Lucas", "Sofia", "Hugo", "Clara", "Felix", "Nora", "Oscar",
    "Ines", "Victor", "Lena", "Tomas", "Maya", "Elias", "Ada", "Ivan", "Zoe", "Kenji", "Priya",
    "Omar", "Greta", "Pablo", "Ruth", "Anton", "Leila", "Soren", "Yuki", "Marco", "Helga",
    "Diego", "Freya", "Tariq", "Elsa", "Rafael", "Agnes", "Bruno", "Carmen", "Dmitri", "Esther",
    "Farid", "Gloria", "Henrik", "Irene", "Jonas", "Katya", "Lorenzo", "Mirela", "Nikolai",
    "Olga", "Pedro", "Quentin", "Rosa", "Stefan", "Tilda", "Ulrich", "Vera", "Walter", "Xenia",
)  # fmt: skip
EXTRA_ROOMS = (
    "attic", "basement", "cellar", "dining room", "study", "garage", "porch", "pantry",
    "laundry room", "balcony", "nursery", "workshop", "greenhouse", "lounge", "loft", "sunroom",
    "storeroom", "corridor", "terrace", "veranda", "playroom", "den", "foyer", "gym",
    "conservatory", "courtyard", "shed", "stable", "chapel", "gallery",
)  # fmt: skip
EXTRA_OBJECTS = (
    "book", "umbrella", "guitar", "lamp", "hammer", "kettle", "camera", "pillow", "violin",
    "wallet", "bottle", "basket", "candle", "compass", "helmet", "ladder", "mirror", "notebook",
    "pencil", "radio", "scarf", "shovel", "teapot", "telescope", "toaster", "trumpet", "vase",
    "whistle", "backpack", "blanket",
)  # fmt: skip

ALL_ACTORS = ACTORS + EXTRA_ACTORS
ALL_ROOMS = ROOMS + EXTRA_ROOMS
ALL_OBJECTS = OBJECTS + EXTRA_OBJECTS


def pool(release: tuple[str, ...], extra: tuple[str, ...], size: int) -> tuple[str, ...]:
    """The first ``size`` names: the release's, then extra ones."""
    names = tuple(release) + tuple(n for n in extra if n not in release)
    return names[:size]
