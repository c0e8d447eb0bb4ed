"""memtasks.views: the padded view (every task: test_every_task.py) and the QA view."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memtasks
from memtasks import views
from memtasks.episode import EpisodeBatch


# ---------------------------------------------------------------------------------------------
# Hand-made token episodes, bAbI-like: sentences are context items, then questions and answers.
# ---------------------------------------------------------------------------------------------
def story(*items) -> dict[str, list]:
    """One episode from items ``("s", tokens)`` (a sentence) and
    ``("q", question_tokens, answer_tokens, supporting_sentence_ids)``; sentences are numbered
    0, 1, ... in order, answer positions read token 0 and are scored."""
    ep = {k: [] for k in ("inputs", "targets", "mask", "role", "segment", "support", "answer_of")}
    sentence, question = 0, 0

    def put(token, target, scored, role, segment):
        ep["inputs"].append(token)
        ep["targets"].append(target)
        ep["mask"].append(scored)
        ep["role"].append(role)
        ep["segment"].append(segment)

    for item in items:
        if item[0] == "s":
            for token in item[1]:
                put(token, 0, False, 0, sentence)
            sentence += 1
        else:
            _, tokens, answer, support = item
            for token in tokens:
                put(token, 0, False, 1, -1)
            for token in answer:
                put(0, token, True, 2, -1)
            ep["support"] += list(support)
            ep["answer_of"] += [question] * len(support)
            question += 1
    return ep


def token_batch(*episodes: dict[str, list], index_start: int = 0) -> EpisodeBatch:
    """An ``EpisodeBatch`` of token episodes given as dicts of per-position lists."""

    def cat(name, dtype):
        return np.asarray([x for ep in episodes for x in ep[name]], dtype=dtype)

    return EpisodeBatch.from_lengths(
        lengths=np.asarray([len(ep["inputs"]) for ep in episodes], dtype=np.int64),
        inputs=cat("inputs", np.int32),
        targets=cat("targets", np.int32),
        mask=cat("mask", bool),
        role=cat("role", np.int8),
        segment=cat("segment", np.int32),
        index=np.arange(index_start, index_start + len(episodes)),
        support_lengths=np.asarray([len(ep["support"]) for ep in episodes], dtype=np.int64),
        support=cat("support", np.int32),
        support_answer=cat("answer_of", np.int32),
        meta={"story": np.arange(len(episodes), dtype=np.int32)},
        task="test/stories-v1",
    )


# Two stories: the first has two questions, the second one.
STORIES = token_batch(
    story(
        ("s", [5, 6, 7]),
        ("s", [8, 9]),
        ("q", [10, 11], [12], [1]),
        ("s", [13, 14, 15, 16]),
        ("q", [17], [18, 19], [0, 2]),
    ),
    story(("s", [3]), ("q", [4, 4], [5], [0])),
    index_start=40,
)


# ---------------------------------------------------------------------------------------------
# padded
# ---------------------------------------------------------------------------------------------
def check_padded_matches_csr(batch: EpisodeBatch, out: dict, pad_input=0, pad_target=0) -> None:
    """Every episode's steps equal its CSR content; every step after its end holds padding."""
    b = len(batch)
    t = out["mask"].shape[1]
    assert out["lengths"].tolist() == batch.lengths.tolist()
    assert out["index"].tolist() == batch.index.tolist()
    fills = {"inputs": pad_input, "targets": pad_target, "mask": False, "role": -1, "segment": -1}
    for name in fills:
        assert out[name].shape[:2] == (b, t)
        assert out[name].shape[2:] == getattr(batch, name).shape[1:]
    for i in range(b):
        ep = batch.episode(i)
        n = len(ep["mask"])
        for name, fill in fills.items():
            np.testing.assert_array_equal(out[name][i, :n], ep[name])
            assert np.all(out[name][i, n:] == fill), name


# the padded view of every task (content, padding, dtypes) is in test_every_task.py


def test_padded_uses_pad_values_and_never_shares_memory():
    batch = memtasks.generate("ntm/repeat-copy-v1", 5, seed=3)  # float32 inputs, uint8 targets
    out = views.padded(batch, pad_input=-2.5, pad_target=7)
    check_padded_matches_csr(batch, out, pad_input=-2.5, pad_target=7)
    assert (~out["mask"]).sum() > 0  # lengths differ, so there is padding to check
    for name in ("inputs", "targets", "mask", "role", "segment"):
        assert not np.shares_memory(out[name], getattr(batch, name))


def test_padded_of_equal_lengths_is_a_copy_not_a_view():
    batch = memtasks.generate("ntm/dynamic-ngrams-v1", 3, seed=0)  # every episode 200 long
    assert len(set(batch.lengths.tolist())) == 1
    out = views.padded(batch)
    check_padded_matches_csr(batch, out)
    out["inputs"][0, 0, 0] ^= 1
    assert batch.inputs[0, 0] != out["inputs"][0, 0, 0]


def test_padded_reads_read_only_arrow_buffers():
    batch = memtasks.generate("ntm/copy-v1", 4, seed=2)
    back = EpisodeBatch.from_arrow(batch.to_arrow())
    check_padded_matches_csr(back, views.padded(back))


def test_padded_to_max_length():
    batch = memtasks.generate("ntm/copy-v1", 4, seed=0, max_length=5)
    out = views.padded(batch, max_length=40)
    assert out["inputs"].shape == (4, 40, 9)
    check_padded_matches_csr(batch, out)
    longest = int(batch.lengths.max())
    with pytest.raises(ValueError, match=f"has {longest} positions, more than max_length=3"):
        views.padded(batch, max_length=3)
    with pytest.raises(ValueError, match="max_length must be a non-negative integer"):
        views.padded(batch, max_length=-1)


def test_padded_casts_while_padding():
    batch = memtasks.generate("ntm/copy-v1", 3, seed=0)
    out = views.padded(batch, dtypes={"inputs": np.float32, "segment": np.int64})
    assert out["inputs"].dtype == np.float32 and out["segment"].dtype == np.int64
    assert out["targets"].dtype == np.uint8
    check_padded_matches_csr(batch, out)
    with pytest.raises(ValueError, match="unknown fields"):
        views.padded(batch, dtypes={"input": np.float32})


def test_padded_of_token_episodes():
    out = views.padded(STORIES, pad_input=0, pad_target=0)
    assert out["inputs"].shape == (2, 15) and out["inputs"].dtype == np.int32
    check_padded_matches_csr(STORIES, out)
    assert out["index"].tolist() == [40, 41]


def test_padded_of_an_empty_batch():
    empty = memtasks.generate("ntm/copy-v1", 0)
    out = views.padded(empty)
    assert out["inputs"].shape == (0, 0, 9) and out["mask"].shape == (0, 0)
    assert views.padded(empty, max_length=4)["targets"].shape == (0, 4, 8)


@settings(max_examples=25, deadline=None)
@given(
    task=st.sampled_from(["ntm/repeat-copy-v1", "ntm/associative-recall-v1"]),
    n=st.integers(0, 40),
    batch_size=st.integers(1, 12),
    arrow=st.booleans(),
)
def test_pad_batches_equals_the_padded_view_of_each_batch(task, n, batch_size, arrow):
    """Consecutive batches in one pass (the last may be shorter), each padded to its own
    longest episode, with collate's dtypes; from read-only Arrow buffers as well."""
    batch = memtasks.generate(task, n, seed=n)
    if arrow:
        batch = EpisodeBatch.from_arrow(batch.to_arrow())
    chunk = views.pad_batches(batch, batch_size)
    assert len(chunk) == -(-n // batch_size)
    dtypes = {"inputs": np.float32, "targets": np.float32, "segment": np.int64}
    for g in range(len(chunk)):
        part = batch[g * batch_size : (g + 1) * batch_size]
        expected, got = views.padded(part, dtypes=dtypes), chunk.arrays(g)
        assert got.keys() == expected.keys()
        for name, values in expected.items():
            assert got[name].dtype == values.dtype, name
            np.testing.assert_array_equal(got[name], values, err_msg=name)
        for name, values in chunk.meta_of(g).items():
            np.testing.assert_array_equal(values, part.meta[name])


def test_pad_batches_of_token_episodes_and_its_memory():
    chunk = views.pad_batches(STORIES, 1)
    for g in range(2):
        expected = views.padded(STORIES[g], dtypes={"inputs": np.int64, "targets": np.int64,
                                                    "segment": np.int64})  # fmt: skip
        for name, values in expected.items():
            assert chunk.arrays(g)[name].dtype == values.dtype
            np.testing.assert_array_equal(chunk.arrays(g)[name], values, err_msg=name)
    # the fields are carved from one allocation; the index is a copy (the batch's may be
    # read-only Arrow memory), never the batch's own
    blocks = []
    chunk = views.pad_batches(STORIES, 2, allocate=lambda n: blocks.append(np.empty(n, np.uint8))
                              or blocks[-1])  # fmt: skip
    assert len(blocks) == 1
    for name, values in chunk.fields.items():
        assert np.shares_memory(values, blocks[0]), name
    assert not np.shares_memory(chunk.index, STORIES.index)


def test_position_coordinates_invert_the_padding():
    batch = memtasks.generate("ntm/associative-recall-v1", 5, seed=9)
    episode, step = views.position_coordinates(batch)
    out = views.padded(batch)
    np.testing.assert_array_equal(out["inputs"][episode, step], batch.inputs)
    assert np.all(step < batch.lengths[episode])


# ---------------------------------------------------------------------------------------------
# qa
# ---------------------------------------------------------------------------------------------
def test_qa_of_hand_made_stories():
    view = views.qa(STORIES)
    assert len(view) == 3  # two questions in the first story, one in the second
    assert view.episode.tolist() == [0, 0, 1]
    assert view.index.tolist() == [40, 40, 41]
    assert view.answer_ordinal.tolist() == [0, 1, 0]
    assert view.sentences.shape == (3, 3, 4)
    assert view.sentences.tolist() == [
        [[5, 6, 7, 0], [8, 9, 0, 0], [0, 0, 0, 0]],  # the third sentence comes after question 0
        [[5, 6, 7, 0], [8, 9, 0, 0], [13, 14, 15, 16]],
        [[3, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
    ]
    assert view.sentence_counts.tolist() == [2, 3, 1]
    assert view.sentence_segment.tolist() == [[0, 1, -1], [0, 1, 2], [0, -1, -1]]
    assert view.query.tolist() == [[10, 11], [17, 0], [4, 4]]
    assert view.answer.tolist() == [[12, 0], [18, 19], [5, 0]]
    assert view.support.tolist() == [[1, -1], [0, 2], [0, -1]]
    assert view.support_rows.tolist() == [[1, -1], [0, 2], [0, -1]]
    dtypes = {"sentences": np.int32, "query": np.int32, "answer": np.int32, "support": np.int32}
    dtypes |= {"episode": np.int64, "index": np.int64, "sentence_counts": np.int64}
    for name, dtype in dtypes.items():
        assert getattr(view, name).dtype == dtype, name


def test_qa_keeps_only_the_last_sentences():
    view = views.qa(STORIES, max_sentences=1)
    assert view.sentences.tolist() == [[[8, 9, 0, 0]], [[13, 14, 15, 16]], [[3, 0, 0, 0]]]
    assert view.sentence_counts.tolist() == [1, 1, 1]
    assert view.sentence_segment.tolist() == [[1], [2], [0]]
    assert view.support.tolist() == [[1, -1], [0, 2], [0, -1]]  # the items themselves stay
    assert view.support_rows.tolist() == [[0, -1], [-1, 0], [0, -1]]  # sentence 0 was dropped
    with pytest.raises(ValueError, match="max_sentences must be a positive integer"):
        views.qa(STORIES, max_sentences=0)


def test_qa_groups_support_by_answer_whatever_their_order():
    # support items listed out of answer order: the second question's first
    ep = story(("s", [1]), ("s", [2]), ("q", [3], [4], []), ("q", [5], [6], []))
    ep["support"], ep["answer_of"] = [1, 0, 0], [1, 0, 1]
    view = views.qa(token_batch(ep))
    assert view.support.tolist() == [[0, -1], [1, 0]]


def test_qa_five_questions_give_five_samples():
    items = []
    for q in range(5):
        items += [("s", [q + 1, q + 2]), ("q", [20 + q], [30 + q], [q])]
    view = views.qa(token_batch(story(*items)))
    assert len(view) == 5
    assert view.sentence_counts.tolist() == [1, 2, 3, 4, 5]
    assert view.answer[:, 0].tolist() == [30, 31, 32, 33, 34]
    assert view.support_rows[:, 0].tolist() == [0, 1, 2, 3, 4]


def test_qa_refuses_vector_batches():
    batch = memtasks.generate("ntm/associative-recall-v1", 2, seed=0)
    with pytest.raises(ValueError, match="qa needs a token task.*use padded"):
        views.qa(batch)


def test_an_answer_without_its_own_question_reads_its_own_inputs():
    """A recall probe scores the value at the position that reads the key (MQAR): a span with
    no question after the episode's previous span asks it at its own positions."""
    ep = story(("s", [1, 2]), ("q", [3], [4], []))
    ep["role"][2] = 0  # the question token becomes context: the answer has no question
    ep["inputs"][3] = 9  # the answer position reads the key
    view = views.qa(token_batch(ep, index_start=7))
    assert view.query.tolist() == [[9]] and view.answer.tolist() == [[4]]
    # a question of an earlier span, or of the previous episode, is not this span's
    first = story(("s", [1]), ("q", [2], [3], []))
    second = story(("s", [1]), ("q", [2], [3], []), ("s", [5]), ("q", [6], [7], []))
    second["role"][1] = second["role"][4] = 0  # its two questions become context
    second["inputs"][2], second["inputs"][5] = 11, 12
    view = views.qa(token_batch(first, second))
    assert view.query.tolist() == [[2], [11], [12]]
    assert view.answer.tolist() == [[3], [3], [7]]
    assert view.sentence_counts.tolist() == [1, 1, 2]


def test_qa_refuses_support_for_a_missing_answer():
    ep = story(("s", [1]), ("q", [2], [3], [0]))
    ep["answer_of"] = [1]
    with pytest.raises(ValueError, match="support item for answer 1, but only 1 answer span"):
        views.qa(token_batch(ep))


def test_qa_of_a_batch_without_answers():
    view = views.qa(token_batch(story(("s", [1, 2])), story(("s", [3]))))
    assert len(view) == 0
    assert view.sentences.shape[0] == 0 and view.query.shape == (0, 0)


def reference_qa(batch: EpisodeBatch, max_sentences: int | None = None) -> list[dict]:
    """The qa view written as the plain loop over episodes that its docstring describes."""

    def runs(flags):
        out, start = [], None
        for p, flag in enumerate([*flags, False]):
            if flag and start is None:
                start = p
            elif not flag and start is not None:
                out.append((start, p))
                start = None
        return out

    samples = []
    for e in range(len(batch)):
        ep = batch.episode(e)
        role, segment = ep["role"].tolist(), ep["segment"].tolist()
        questions = runs([r == 1 for r in role])
        previous_end = 0
        for ordinal, (a0, a1) in enumerate(runs([r == 2 for r in role])):
            # the last question after the previous answer, else the answer's own positions
            asked = [q for q in questions if previous_end < q[1] <= a0]
            q0, q1 = asked[-1] if asked else (a0, a1)
            previous_end = a1
            items: dict[int, list[int]] = {}
            for p in range(q0):
                if role[p] == 0 and segment[p] >= 0:
                    items.setdefault(segment[p], []).append(int(ep["inputs"][p]))
            kept = list(items)[-max_sentences:] if max_sentences else list(items)
            support = [
                int(s)
                for s, a in zip(ep["support"], ep["support_answer"], strict=True)
                if a == ordinal
            ]
            samples.append(
                {
                    "sentences": [items[g] for g in kept],
                    "sentence_segment": kept,
                    "query": ep["inputs"][q0:q1].tolist(),
                    "answer": [int(ep["targets"][p]) for p in range(a0, a1) if ep["mask"][p]],
                    "answer_positions": [
                        int(batch.offsets[e]) + p for p in range(a0, a1) if ep["mask"][p]
                    ],
                    "support": support,
                    "support_rows": [kept.index(s) if s in kept else -1 for s in support],
                    "episode": e,
                    "answer_ordinal": ordinal,
                }
            )
    return samples


def padded_list(rows: list[list[int]], fill: int) -> np.ndarray:
    width = max((len(r) for r in rows), default=0)
    return np.asarray([r + [fill] * (width - len(r)) for r in rows]).reshape(len(rows), width)


@st.composite
def random_episode(draw) -> dict[str, list]:
    """An episode of random blocks: context items (segments in any order, repeated, -1),
    control tokens, questions and answers (partly scored, with or without a question before
    them), and random support items."""
    ep = {k: [] for k in ("inputs", "targets", "mask", "role", "segment", "support", "answer_of")}
    for _ in range(draw(st.integers(0, 10))):
        # an answer with no question before it asks at its own positions (recall probes)
        kind = draw(st.sampled_from(["context", "context", "control", "question", "answer"]))
        role = {"context": 0, "question": 1, "answer": 2, "control": 3}[kind]
        segment = draw(st.integers(-1, 5)) if kind == "context" else -1
        for _ in range(draw(st.integers(1, 4))):
            ep["inputs"].append(draw(st.integers(1, 50)))
            ep["targets"].append(draw(st.integers(1, 50)))
            ep["mask"].append(kind == "answer" and draw(st.booleans()))
            ep["role"].append(role)
            ep["segment"].append(segment)
    answers = sum(
        1
        for p, r in enumerate(ep["role"])
        if r == 2 and (p == 0 or ep["role"][p - 1] != 2)  # starts of answer runs
    )
    if answers:
        for _ in range(draw(st.integers(0, 4))):
            ep["support"].append(draw(st.integers(-1, 7)))
            ep["answer_of"].append(draw(st.integers(0, answers - 1)))
    return ep


@settings(max_examples=150, deadline=None)
@given(
    episodes=st.lists(random_episode(), min_size=1, max_size=5),
    max_sentences=st.none() | st.integers(1, 4),
    rows=st.none() | st.lists(st.integers(0, 4), max_size=6),
)
def test_qa_equals_the_reference_loop(episodes, max_sentences, rows):
    batch = token_batch(*episodes, index_start=100)
    if rows is not None:  # also through take (copied, reordered), like a shuffled loader
        rows = [r for r in rows if r < len(batch)]
        batch = batch.take(np.asarray(rows, dtype=np.int64))
    view = views.qa(batch, max_sentences=max_sentences)
    expected = reference_qa(batch, max_sentences)
    assert len(view) == len(expected)
    assert view.episode.tolist() == [s["episode"] for s in expected]
    assert view.index.tolist() == batch.index[view.episode].tolist()
    assert view.answer_ordinal.tolist() == [s["answer_ordinal"] for s in expected]
    assert view.sentence_counts.tolist() == [len(s["sentences"]) for s in expected]
    for name, fill in [
        ("query", 0),
        ("answer", 0),
        ("answer_positions", -1),
        ("support", -1),
        ("support_rows", -1),
    ]:
        np.testing.assert_array_equal(
            getattr(view, name), padded_list([s[name] for s in expected], fill), err_msg=name
        )
    np.testing.assert_array_equal(
        view.sentence_segment, padded_list([s["sentence_segment"] for s in expected], -1)
    )
    n_sentences = max((len(s["sentences"]) for s in expected), default=0)
    width = max((len(t) for s in expected for t in s["sentences"]), default=0)
    assert view.sentences.shape == (len(expected), n_sentences, width)
    for i, sample in enumerate(expected):
        grid = np.zeros((n_sentences, width), dtype=np.int32)
        for r, tokens in enumerate(sample["sentences"]):
            grid[r, : len(tokens)] = tokens
        np.testing.assert_array_equal(view.sentences[i], grid)
