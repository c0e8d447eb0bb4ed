"""Episode indices are int64: ``start`` and ``n`` are refused, in one line naming the value and
the range allowed, unless 0 <= start and start + n <= 2**63 - 1 (registry.check_range). Past
that bound indices used to wrap to negative numbers silently, or fail with an OverflowError or a
Numba typing error.

Also ``memtasks show``'s other limit: its output is capped (``--max-chars``), so that ``-n 1000``
of a long-context task prints a few screens, not megabytes."""

from __future__ import annotations

import numpy as np
import pytest
from _cli import run

import memtasks
from memtasks.errors import MemtasksError
from memtasks.registry import INDEX_STOP, check_range, get_spec

assert INDEX_STOP == 2**63 - 1


def refused(n: int, start, task: str = "ntm/copy-v1") -> str:
    with pytest.raises(MemtasksError) as info:
        memtasks.generate(task, n, start=start)
    message = str(info.value)
    assert message.splitlines() == [message]
    return message


@pytest.mark.parametrize("task", memtasks.list_tasks())
def test_the_last_episodes_before_the_bound_are_generated_with_their_own_indices(task):
    n = 3
    start = 2**63 - 1 - n  # the stop, start + n, is int64's maximum
    batch = memtasks.generate(task, n, seed=5, start=start)
    batch.check()
    assert batch.index.dtype == np.int64
    assert batch.index.tolist() == list(range(start, start + n))  # no wrap to negative numbers
    # each is the same episode when made on its own (a pure function of its index)
    last = memtasks.generate(task, 1, seed=5, start=start + 2)
    assert last.episode(0)["inputs"].tolist() == batch.episode(2)["inputs"].tolist()
    message = refused(n, start + 1, task)  # one more, and the last index would be 2**63 - 1
    assert f"start must be a non-negative integer in [0, 2**63 - 1 - n] = [0, {start}]" in message
    assert f"for n = {n}" in message and message.endswith(f"got {start + 1}")


@pytest.mark.parametrize(
    ("start", "shown"),
    [
        (2**63, "got 9223372036854775808"),
        (2**64, "got 18446744073709551616"),
        (np.uint64(2**64 - 1), "got 18446744073709551615"),
        (10**5000, "got an integer of 16610 bits"),  # repr() of it would raise ValueError
        (-(10**5000), "got a negative integer of 16610 bits"),
        (-1, "got -1"),
        (True, "got True"),
        (1.5, "got 1.5"),
        (float(2**62), "got 4.611686018427388e+18"),
        ("7", "got '7'"),
    ],
    ids=lambda v: v if isinstance(v, str) else type(v).__name__,  # str(10**5000) raises
)
def test_start_out_of_range_or_not_an_integer_is_refused_in_one_line(start, shown):
    n = 10
    message = refused(n, start)
    assert message.startswith(
        f"start must be a non-negative integer in [0, 2**63 - 1 - n] = [0, {2**63 - 1 - n}]"
    )
    assert message.endswith(shown)
    with pytest.raises(MemtasksError, match=r"start must be"):  # the spec's own generate too
        get_spec("ntm/copy-v1").generate(n, start=start)


def test_n_past_the_bound_is_refused_before_any_allocation():
    for n in (2**63, 2**64, 10**5000):
        with pytest.raises(MemtasksError) as info:
            check_range(0, n)
        assert str(info.value).startswith(f"n must be at most 2**63 - 1 = {2**63 - 1}")
    assert check_range(0, 2**63 - 1) == 0 and check_range(np.int64(4), 1) == 4


def test_an_episode_stream_refuses_a_start_past_the_bound():
    pytest.importorskip("torch")
    from memtasks.torch import EpisodeStream

    with pytest.raises(MemtasksError, match=r"\[0, 9223372036854775803\] for n = 4"):
        EpisodeStream("ntm/copy-v1", batch_size=4, start=2**63 - 4)
    stream = EpisodeStream("ntm/copy-v1", batch_size=4, start=2**63 - 5)
    assert stream.batch(0).index.tolist() == list(range(2**63 - 5, 2**63 - 1))
    with pytest.raises(MemtasksError, match="start must be"):  # the next batch would wrap
        stream.batch(1)


def test_show_refuses_starts_past_the_bound_in_one_line(capsys):
    code, out, err = run(capsys, "show", "ntm/copy-v1", "-n", "1", "--start", str(2**63 - 2))
    assert code == 0 and out.startswith(f"episode {2**63 - 2} ")
    code, out, err = run(capsys, "show", "ntm/copy-v1", "-n", "3", "--start", str(2**63 - 3))
    assert code == 1 and out == ""
    assert err.startswith("memtasks: error: start must be a non-negative integer in [0, ")
    assert err.count("\n") == 1 and "Traceback" not in err
    for start in (2**63 - 1, 2**64, 10**40):  # click states the bound for any -n
        code, out, err = run(capsys, "show", "ntm/copy-v1", "--start", str(start))
        assert code == 2 and err.count("\n") == 1
        assert f"{start} is not in the range 0<=x<={2**63 - 2}" in err


def test_generate_refuses_a_start_whose_indices_would_wrap_and_writes_nothing(capsys, tmp_path):
    # it used to exit 0 with negative indices
    out = tmp_path / "x"
    code, _, err = run(capsys, "generate", "ntm/copy-v1", "-n", "10", "--start",
                       "9223372036854775800", "--out", str(out), "-q")  # fmt: skip
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert "[0, 9223372036854775797]" in err and err.rstrip().endswith("got 9223372036854775800")
    assert not out.exists()


# -- memtasks show --max-chars ---------------------------------------------------------------
def test_show_caps_long_output_at_line_ends_and_says_what_was_cut(capsys):
    # 20 long-16k stories are about 1.8 MB of text; uncapped, -n 1000 printed 92 MB
    code, out, err = run(capsys, "show", "babi/qa1-v1", "--preset", "long-16k", "-n", "20")
    assert code == 0
    assert 19_000 < len(out) <= 20_000 + 1  # the cap, less part of a line; echo's newline
    spec = get_spec("babi/qa1-v1")
    layout = spec.layout(spec.make_knobs("long-16k"))  # the filler words are in its vocabulary
    full = memtasks.generate("babi/qa1-v1", 20, preset="long-16k").pretty(20, layout)
    assert full.startswith(out.rstrip("\n")) and full[len(out) - 1] == "\n"  # whole lines
    assert err.count("\n") == 1 and err.startswith("memtasks: output cut at 20,000 characters: ")
    assert "episode 0 shows " in err and "and the 19 episodes after it are not shown" in err
    assert err.rstrip().endswith("--max-chars 0 shows all")


@pytest.mark.parametrize("cap", ["900", "1400"])
def test_show_max_chars_sets_the_cap_and_zero_removes_it(capsys, cap):
    args = ("show", "ntm/copy-v1", "-n", "3", "--seed", "2")
    full = memtasks.generate("ntm/copy-v1", 3, seed=2).pretty(limit=3)
    assert len(full) > 1400
    code, out, err = run(capsys, *args, "--max-chars", cap)
    shown = out.rstrip("\n")
    assert code == 0 and len(shown) <= int(cap) and full.startswith(shown)
    assert full[len(shown)] == "\n"  # cut at a line end
    assert len(full[: full.index("\n", len(shown) + 1)]) > int(cap)  # as late as the cap allows
    assert f"output cut at {int(cap):,} characters" in err
    for more in (("--max-chars", "0"), ()):  # no cap; the default cap is not reached
        code, out, err = run(capsys, *args, *more)
        assert code == 0 and out == full + "\n" and err == ""
