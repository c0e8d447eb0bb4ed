"""Episodes as readable text: bit grids for vector tasks (time runs left to right, one row per
channel, as in the Neural Turing Machine paper's figures), tokens for token tasks, and whatever
a family renders its own way (``register_renderer``: stories as the numbered lines of their
text format)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .episode import ROLE_NAMES, EpisodeBatch

ON, OFF, SCORED, SKIPPED = "█", "·", "^", " "

# family -> renderer(batch, i, layout) -> the episode's lines below its heading, or None to
# fall back to the generic rendering; registered by family modules when imported
Renderer = Callable[[EpisodeBatch, int, object], "list[str] | None"]
_RENDERERS: dict[str, Renderer] = {}


def register_renderer(family: str, renderer: Renderer) -> None:
    """Render episodes of ``family``'s tasks and datasets with ``renderer`` (see above)."""
    _RENDERERS[family] = renderer


def _renderer(task: str) -> Renderer | None:
    family = task.split("/")[0] if task else ""
    if family and family not in _RENDERERS:
        from .registry import _ensure_loaded

        _ensure_loaded()  # the family's module registers its renderer
    return _RENDERERS.get(family)


def _layout(batch: EpisodeBatch, layout=None):
    """The channel names to print: ``layout`` when given, else the task's default layout."""
    if layout is None and batch.task:
        from .errors import UnknownTaskError
        from .registry import get_spec

        try:
            spec = get_spec(batch.task)
            layout = spec.layout(spec.knobs())
        except UnknownTaskError:  # a batch of a task this install does not know: no labels
            return None
    # the batch does not carry its knobs: a layout names its channels only when the widths
    # agree (copy with width=4 has its delimiter on channel 4, not "bit 4")
    if (
        layout is not None
        and batch.is_vector
        and (
            len(layout.input_channels) != batch.inputs.shape[1]
            or len(layout.target_channels) != batch.targets.shape[1]
        )
    ):
        return None
    # a token batch made with other knobs may use words its default vocabulary lacks (a
    # long-context filler's): then no names rather than a wrong or missing one
    tokens = layout is not None and layout.vocab and not batch.is_vector and len(batch.inputs)
    if tokens and max(int(batch.inputs.max()), int(batch.targets.max())) >= len(layout.vocab):
        return None
    return layout


STEPS_PER_BLOCK = 100  # longer episodes print as several blocks of time steps


def _grid(values: np.ndarray, names: tuple[str, ...], label: str, width: int) -> list[str]:
    """One text row per channel of a [T, D] array, channel names padded to ``width``."""
    lines = [label]
    for c in range(values.shape[1]):
        name = names[c] if c < len(names) else f"ch {c}"
        col = values[:, c]
        if values.dtype.kind == "f" and not np.isin(col, (0.0, 1.0)).all():
            cells = "".join(OFF if v == 0 else ("+" if v > 0 else "-") for v in col)
        else:
            cells = "".join(ON if v else OFF for v in col)
        lines.append(f"  {name:<{width}} {cells}")
    return lines


def _numbers(values: np.ndarray, names: tuple[str, ...]) -> list[str]:
    """The values of channels that carry numbers (not bits), which a grid shows only as +/-."""
    lines = []
    for c in range(values.shape[1]):
        col = values[:, c]
        if values.dtype.kind == "f" and not np.isin(col, (0.0, 1.0)).all():
            name = names[c] if c < len(names) else f"ch {c}"
            nonzero = [f"t{t}={v:+.3f}" for t, v in enumerate(col) if v != 0]
            more = " ..." if len(nonzero) > 12 else ""
            lines.append(f"  {name}: " + " ".join(nonzero[:12]) + more)
    return lines


def render_episode(batch: EpisodeBatch, i: int, layout=None) -> str:
    ep = batch.episode(i)
    t = len(ep["mask"])
    meta = " ".join(f"{k}={_fmt(v)}" for k, v in ep["meta"].items() if np.ndim(v) == 0)
    head = f"episode {ep['index']}  ({t} steps{', ' + meta if meta else ''})"
    lines = [head]
    if batch.is_vector:
        names_in = layout.input_channels if layout else ()
        names_out = layout.target_channels if layout else ()
        width = max([len(n) for n in (*names_in, *names_out)] + [8])
        for a in range(0, max(t, 1), STEPS_PER_BLOCK):
            b = min(t, a + STEPS_PER_BLOCK)
            if t > STEPS_PER_BLOCK:
                lines.append(f"steps {a}..{b - 1}")
            lines += _grid(ep["inputs"][a:b], names_in, "inputs", width)
            lines += _grid(ep["targets"][a:b], names_out, "targets", width)
            scored = "".join(SCORED if m else SKIPPED for m in ep["mask"][a:b])
            lines.append(f"  {'scored':<{width}} {scored}")
        lines += _numbers(ep["inputs"], names_in)
    else:
        vocab = layout.vocab if layout else ()

        def word(x: int) -> str:
            return vocab[x] if 0 <= x < len(vocab) else str(x)

        renderer = _renderer(batch.task)
        own = renderer(batch, i, layout) if renderer is not None else None
        if own is not None:  # the family's own rendering (stories as their text...)
            return "\n".join(lines + own)
        lines.append("  inputs : " + " ".join(word(int(x)) for x in ep["inputs"]))
        scored = [word(int(x)) for x, m in zip(ep["targets"], ep["mask"], strict=True) if m]
        lines.append("  targets: " + " ".join(scored) + "   (scored positions only)")
    roles = ", ".join(
        f"{ROLE_NAMES.get(int(r), r)} {int((ep['role'] == r).sum())}" for r in np.unique(ep["role"])
    )
    lines.append(f"  roles: {roles}")
    if len(ep["support"]):
        lines.append("  support: " + " ".join(str(int(s)) for s in ep["support"]))
    return "\n".join(lines)


def is_story(ep: dict) -> bool:
    """Sentences (context with segments), questions and answers only, every answer scored."""
    role = ep["role"]
    context = role == 0
    return (
        bool(np.isin(role, (0, 1, 2)).all())
        and bool((ep["segment"][context] >= 0).all())
        and bool(ep["mask"][role == 2].all())
        and (role == 1).any()
    )


def _fmt(v) -> str:
    v = np.asarray(v).item()
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def render_batch(batch: EpisodeBatch, limit: int = 3, layout=None) -> str:
    """The first ``limit`` episodes; ``layout`` (the task's, for the batch's knobs) names the
    channels."""
    return render_capped(batch, limit, layout)[0]


MAX_CHARS = 20_000  # `memtasks show`'s default cap: a few screens, not megabytes


def render_capped(
    batch: EpisodeBatch, limit: int = 3, layout=None, max_chars: int = 0
) -> tuple[str, str]:
    """``render_batch``'s text cut to at most ``max_chars`` characters in all (0: no cap), at
    the end of a line, and a sentence saying what was cut ("" when nothing was).

    A long-context story is tens of thousands of characters, so ``show -n 1000`` of one would
    print megabytes; episodes are rendered one at a time and rendering stops at the cap."""
    layout = _layout(batch, layout)
    shown = min(limit, len(batch))
    parts: list[str] = []
    used = 0
    for i in range(shown):
        text = render_episode(batch, i, layout)
        gap = 2 if parts else 0  # the blank line between episodes
        if max_chars and used + gap + len(text) > max_chars:
            room = max_chars - used - gap
            end = text.rfind("\n", 0, room + 1)  # whole lines only
            head = text[:end] if end > 0 else ""
            if head:
                parts.append(head)
            lines = text.count("\n") + 1
            kept = head.count("\n") + 1 if head else 0
            index, rest = int(batch.index[i]), shown - i - 1
            if kept:
                cut = f"episode {index} shows {kept} of its {lines} lines"
                if rest:
                    cut += f", and the {rest} episode{'s' if rest > 1 else ''} after it"
                    cut += f" {'are' if rest > 1 else 'is'} not shown"
            else:
                cut = f"the last {rest + 1} episode{'s' if rest else ''} (from episode {index} on)"
                cut += f" {'are' if rest else 'is'} not shown"
            note = f"output cut at {max_chars:,} characters: {cut}; --max-chars 0 shows all"
            return "\n\n".join(parts), note
        parts.append(text)
        used += gap + len(text)
    if len(batch) > limit:
        parts.append(f"... {len(batch) - limit} more episodes")
    return "\n\n".join(parts), ""
