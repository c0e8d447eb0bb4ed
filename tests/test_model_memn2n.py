"""reference_models.memn2n and reference_models.gated_memn2n: the forward pass against a slow
transcription of eq. 81-87 (sample by sample, sentence by sentence, word by word), position
encoding by hand, temporal encoding, masks and batch independence, the nil word, linear start,
random noise, the parameter counts of each tying, and MemN2N learning bAbI qa1 from 1000
questions with the paper's training settings."""

from __future__ import annotations

import math
import time

import pytest

torch = pytest.importorskip("torch")

import memtasks  # noqa: E402
from memtasks import models  # noqa: E402
from memtasks.errors import KnobError  # noqa: E402
from memtasks.models.gated_memn2n import gated_update  # noqa: E402
from memtasks.models.memn2n import memory_ages  # noqa: E402

TASK = "babi/qa1-v1"
SMALL = dict(embed_size=8, hops=3)


def make(name="memn2n", seed=0, **hp):
    torch.manual_seed(seed)
    return models.create(name, TASK, **{**SMALL, **hp})


@pytest.fixture(scope="module")
def episodes():
    return memtasks.generate(TASK, 4, seed=0)


@pytest.fixture(scope="module")
def batch(episodes):
    return make().collate(episodes)


# ---------------------------------------------------------------------------------------------
# A slow reference: the paper's equations one sample, one memory, one word at a time
# ---------------------------------------------------------------------------------------------
def ref_encode(tokens, table, pe, scale=1.0):
    """sum_j l_j * E x_j, with l_kj = (1 - j/J) - (k/d)(1 - 2j/J) (83) (times ``scale``, the
    knob ``pe_scale``) or 1 (bag of words)."""
    words = [int(t) for t in tokens if int(t) != 0]
    big_j, d = len(words), table.shape[1]
    out = torch.zeros(d, dtype=torch.float64)
    for j, w in enumerate(words, start=1):
        for k in range(1, d + 1):
            weight = scale * ((1 - j / big_j) - (k / d) * (1 - 2 * j / big_j)) if pe else 1.0
            out[k - 1] += weight * float(table[w, k - 1])
    return out


def ref_logits(model, batch):
    hp = model.hp
    e = model.embeddings.detach().double()
    t = None if model.temporal is None else model.temporal.detach().double()
    k_hops, pe = hp.hops, hp.encoding == "pe"
    scale = hp.pe_scale
    if hp.tying == "adjacent":
        b_tab = e[0]
        a_tab, c_tab = [e[k] for k in range(k_hops)], [e[k + 1] for k in range(k_hops)]
        ta, tc = (None, None) if t is None else ([t[k] for k in range(k_hops)], t[1:])
    else:
        b_tab, a_tab, c_tab = e[0], [e[1]] * k_hops, [e[2]] * k_hops
        ta, tc = (None, None) if t is None else ([t[0]] * k_hops, [t[1]] * k_hops)
    out = []
    for s in range(batch["query"].shape[0]):
        count = int(batch["sentence_counts"][s])
        sents = batch["sentences"][s]
        u = ref_encode(batch["query"][s], b_tab, pe, scale)
        for k in range(k_hops):
            m = [ref_encode(sents[i], a_tab[k], pe, scale) for i in range(count)]
            c = [ref_encode(sents[i], c_tab[k], pe, scale) for i in range(count)]
            if ta is not None:  # (84)-(85): the most recent sentence has age 0
                age = [min(count - 1 - i, hp.memory_size - 1) for i in range(count)]  # the cap
                m = [m[i] + ta[k][age[i]] for i in range(count)]
                c = [c[i] + tc[k][age[i]] for i in range(count)]
            scores = torch.stack([u @ mi for mi in m])
            # the authors' code: a memory of memory_size slots, the empty ones scoring 0
            empty = max(hp.memory_size - count, 0) if hp.empty_slots == "attended" else 0
            p = scores if model.linear else torch.exp(scores) / (torch.exp(scores).sum() + empty)
            o = sum(p[i] * c[i] for i in range(count))
            if model.name == "gated-memn2n":  # (86)-(87)
                g = k if hp.gate_tying == "hop" else 0
                w_t = model.gate_weight[g].detach().double()
                b_t = model.gate_bias[g].detach().double()
                gate = 1 / (1 + torch.exp(-(w_t @ u + b_t)))
                u = o * gate + u * (1 - gate)
            elif hp.tying == "layerwise":  # (81)
                u = model.H.weight.detach().double() @ u + o
            else:
                u = u + o
        rows = []
        v = e.shape[1]
        if hp.tying == "adjacent":
            rows.append(e[k_hops] @ u)  # W^T = C^K (82)
            extra = hp.answer_words - 1
        else:
            extra = hp.answer_words
        if extra:
            w = model.answer.linear.weight.detach().double().view(extra, v, -1)
            rows += [w[a] @ u for a in range(extra)]
        out.append(torch.stack(rows))
    return torch.stack(out)


CASES = [
    ("memn2n", dict()),
    ("memn2n", dict(tying="layerwise")),
    ("memn2n", dict(encoding="bow", temporal=False, hops=1, answer_words=1)),
    ("memn2n", dict(tying="layerwise", encoding="bow", hops=2)),
    ("memn2n", dict(empty_slots="attended", pe_scale=2.0)),
    ("memn2n", dict(empty_slots="attended", memory_size=6, tying="layerwise")),
    ("gated-memn2n", dict()),
    ("gated-memn2n", dict(gate_tying="global", tying="layerwise")),
]


@pytest.mark.parametrize("linear", [True, False])
@pytest.mark.parametrize(("name", "hp"), CASES)
def test_forward_matches_the_equations(batch, name, hp, linear):
    model = make(name, **hp).eval()
    model.linear = linear
    sub = model.select(batch, torch.arange(6))
    with torch.no_grad():
        logits = model(sub)
    v = model.io.output_size
    assert logits.shape == (6, model.hp.answer_words, v)
    torch.testing.assert_close(logits.double(), ref_logits(model, sub), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# Encodings
# ---------------------------------------------------------------------------------------------
def test_position_encoding_by_hand():
    """A 3-word sentence (then a padding column) against l_kj = (1 - j/J) - (k/d)(1 - 2j/J)
    written out for J = 3, d = 4."""
    model = make(embed_size=4, temporal=False)
    tables = model.tables()[:1]
    tokens = torch.tensor([[5, 9, 14, 0]])
    d = 4
    expected = torch.zeros(d)
    for j in (1, 2, 3):
        for k in (1, 2, 3, 4):
            weight = (1 - j / 3) - (k / d) * (1 - 2 * j / 3)
            expected[k - 1] += weight * tables[0, int(tokens[0, j - 1]), k - 1]
    # e.g. the first word, first dimension: (1 - 1/3) - (1/4)(1 - 2/3) = 7/12
    assert math.isclose((1 - 1 / 3) - (1 / 4) * (1 - 2 / 3), 7 / 12)
    got = model.encode(tokens, tables)[0, 0]
    torch.testing.assert_close(got, expected.detach())
    bow = make(embed_size=4, temporal=False, encoding="bow")
    torch.testing.assert_close(
        bow.encode(tokens, bow.tables()[:1])[0, 0], bow.tables()[0, [5, 9, 14]].sum(0)
    )


def test_position_encoding_sees_word_order_and_bow_does_not():
    a, b = torch.tensor([[4, 14, 15, 16, 8]]), torch.tensor([[8, 14, 15, 16, 4]])
    pe, bow = make(temporal=False), make(temporal=False, encoding="bow")
    t_pe, t_bow = pe.tables()[:1], bow.tables()[:1]
    assert not torch.allclose(pe.encode(a, t_pe), pe.encode(b, t_pe))
    torch.testing.assert_close(bow.encode(a, t_bow), bow.encode(b, t_bow))


def test_memory_ages_most_recent_is_zero():
    ages, present = memory_ages(torch.tensor([3, 1, 0]), 4)
    assert ages.tolist() == [[2, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert present.tolist() == [[True, True, True, False], [True, False, False, False], [False] * 4]


def test_temporal_encoding_tells_identical_sentences_apart():
    """The same sentence twice in a story: with temporal encoding its two memories differ by
    T(age 1) - T(age 0) in every memory table; without it they are equal."""
    sentence = [4, 14, 15, 16, 8, 2]
    sentences = torch.tensor([[sentence, sentence]])
    counts = torch.tensor([2])
    for temporal in (True, False):
        model = make(temporal=temporal)
        ages, present = memory_ages(counts, 2)
        mem = model.memories(sentences, ages, present, model.tables())  # [n, 1, 2, d]
        if temporal:
            t = model.temporal.detach()
            torch.testing.assert_close(mem[:, 0, 0] - mem[:, 0, 1], t[:, 1] - t[:, 0])
            assert (mem[:, 0, 0] - mem[:, 0, 1]).abs().amin(-1).gt(0).all()
        else:
            torch.testing.assert_close(mem[:, 0, 0], mem[:, 0, 1])


def test_temporal_encoding_needs_a_memory_size():
    with pytest.raises(KnobError, match="memory_size"):
        make(memory_size=0)
    make(memory_size=0, temporal=False)


# ---------------------------------------------------------------------------------------------
# Masks, padding, batch independence
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["memn2n", "gated-memn2n"])
@pytest.mark.parametrize("linear", [True, False])
def test_padding_rows_get_no_attention(batch, name, linear):
    model = make(name).eval()
    model.linear = linear
    with torch.no_grad():
        _, attention = model.run(batch)
    n = batch["sentences"].shape[1]
    assert attention.shape == (len(batch["query"]), model.hp.hops, n)
    padding = torch.arange(n)[None, :] >= batch["sentence_counts"][:, None]
    assert padding.any()
    assert (attention.masked_select(padding[:, None, :].expand_as(attention)) == 0).all()
    if not linear:
        torch.testing.assert_close(attention.sum(-1), torch.ones(attention.shape[:2]))


def pad(batch, rows, words, query_words):
    """The same questions with more padding: extra memory rows, words and question words."""
    out = dict(batch)
    out["sentences"] = torch.nn.functional.pad(batch["sentences"], (0, words, 0, rows))
    out["query"] = torch.nn.functional.pad(batch["query"], (0, query_words))
    return out


@pytest.mark.parametrize("linear", [True, False])
@pytest.mark.parametrize(("name", "hp"), CASES)
def test_answers_do_not_depend_on_the_batch_or_padding(batch, name, hp, linear):
    model = make(name, **hp).eval()
    model.linear = linear
    with torch.no_grad():
        whole = model(batch)
        padded = model(pad(batch, rows=5, words=3, query_words=2))
        for i in (0, 7, 13):
            alone = model(model.select(batch, torch.tensor([i])))  # its own memory length
            torch.testing.assert_close(alone[0], whole[i], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(padded, whole, rtol=1e-5, atol=1e-6)


def test_a_question_with_no_sentences_reads_nothing(batch):
    model = make().eval()
    model.linear = False
    sub = model.select(batch, torch.arange(3))
    sub["sentence_counts"] = torch.zeros(3, dtype=torch.int64)
    with torch.no_grad():
        logits, attention = model.run(sub)
    assert torch.isfinite(logits).all()
    assert (attention == 0).all()


# ---------------------------------------------------------------------------------------------
# The nil word
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "hp"), [("memn2n", {}), ("memn2n", {"tying": "layerwise"}), ("gated-memn2n", {})]
)
@pytest.mark.parametrize("optim", ["paper", "adam"])
def test_nil_word_embeds_to_zero_after_training_steps(batch, name, hp, optim):
    model = make(name, **hp).train()
    if optim == "paper":
        opt = model.optimizer.build(model.parameters())
    else:  # momentum and weight decay would move a row that ever saw a gradient
        opt = torch.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.1)
    before = model.embeddings.detach().clone()
    for _ in range(5):
        loss = model.loss(model(batch), batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert not torch.equal(before, model.embeddings.detach())  # it did train
    assert (model.embeddings[:, 0] == 0).all()  # every table: A, B, C, W^T = C^K
    assert (model.tables()[:, 0] == 0).all()
    # ... so the nil word's memory and question vectors are zero, and padding rows (which get
    # no temporal vector either) hold nothing
    counts = torch.tensor([2, 0])
    ages, present = memory_ages(counts, 3)
    sentences = torch.tensor([[[4, 14, 8], [5, 14, 9], [0, 0, 0]], [[0, 0, 0]] * 3])
    mem = model.memories(sentences, ages, present, model.tables())
    assert (mem[:, 0, 2] == 0).all() and (mem[:, 1] == 0).all()
    if hp.get("tying", "adjacent") == "adjacent":  # W^T = C^K: the nil word's logit is 0
        with torch.no_grad():
            assert (model.eval()(batch)[:, 0, 0] == 0).all()


# ---------------------------------------------------------------------------------------------
# Linear start
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["memn2n", "gated-memn2n"])
def test_linear_start_switches_once_when_the_held_out_loss_stops_falling(batch, name):
    model = make(name).eval()
    assert model.linear  # linear_start defaults to True

    def sums():
        with torch.no_grad():
            return model.run(batch)[1].sum(-1)

    assert not torch.allclose(sums(), torch.ones_like(sums()), atol=1e-3)
    assert model.end_of_epoch(1, 0.90) is None
    assert model.end_of_epoch(2, 0.85) is None
    assert model.end_of_epoch(3, 0.81) is None
    assert model.end_of_epoch(4, 0.83) is None  # one worse epoch is noise: patience 3
    assert model.end_of_epoch(5, 0.82) is None
    assert model.linear
    event = model.end_of_epoch(6, 0.84)  # three epochs without beating epoch 3's 0.81
    assert event == (
        "epoch 6: validation loss stopped decreasing (best 0.81 at epoch 3, now 0.84); "
        "softmax re-inserted"
    )
    assert not model.linear
    torch.testing.assert_close(sums(), torch.ones_like(sums()))
    assert model.end_of_epoch(7, 0.90) is None  # once only
    assert model.end_of_epoch(8, 0.95) is None
    assert not model.linear


def test_linear_start_ends_after_linear_epochs_at_the_latest():
    model = make(linear_epochs=4)
    for epoch, loss in enumerate([1.0, 0.9, 0.8], start=1):
        assert model.end_of_epoch(epoch, loss) is None  # still improving
    assert model.end_of_epoch(4, 0.7) == "epoch 4: 4 epochs of linear start; softmax re-inserted"
    assert not model.linear


def test_linear_start_by_hand_and_in_checkpoints():
    model = make()
    model.end_of_epoch(1, 2.0)
    model.insert_softmax()
    assert not model.linear and model.end_of_epoch(2, 3.0) is None
    model.linear = True  # back on by hand, e.g. to rerun LS
    restored = make(seed=1)
    restored.load_state_dict(model.state_dict())
    assert restored.linear
    model.linear = False
    restored.load_state_dict(model.state_dict())
    assert not restored.linear
    assert not make(linear_start=False).linear


def test_equal_losses_count_as_not_decreasing():
    model = make(linear_patience=1)
    assert model.end_of_epoch(1, 1.0) is None
    assert model.end_of_epoch(2, 1.0) is not None


# ---------------------------------------------------------------------------------------------
# Random noise
# ---------------------------------------------------------------------------------------------
def test_random_noise_shifts_ages_by_blanks():
    torch.manual_seed(0)
    counts = torch.randint(1, 50, (4000,))
    ages, present = memory_ages(counts, 50, 0.1)
    clean, _ = memory_ages(counts, 50)
    assert (ages.masked_select(~present) == 0).all()
    a = ages.masked_fill(~present, -1)
    # sentences keep their order: ages strictly decrease along each story
    steps = a[:, :-1] - a[:, 1:]
    assert (steps.masked_select(present[:, 1:]) >= 1).all()
    # a sentence is pushed back by the blanks inserted after it: never younger than without
    assert (ages >= clean).all()
    # the oldest sentence is pushed back by the blanks after it: of the story's
    # floor(0.1 c + U) <= ceil(0.1 c) blanks (0.1 c on average), each lands in one of the c + 1
    # gaps around the sentences, c of them after the oldest
    shift = (ages[:, 0] - clean[:, 0]).double()
    assert (shift <= torch.ceil(0.1 * counts)).all()
    c = counts.double()
    expected = (0.1 * c * c / (c + 1)).sum()
    assert abs(shift.sum().item() / expected.item() - 1) < 0.05
    # and they land anywhere: the most recent sentence is sometimes shifted too
    assert (ages[torch.arange(4000), counts - 1] > 0).any()
    assert (ages[torch.arange(4000), counts - 1] == 0).any()


def test_random_noise_only_while_training(batch):
    model = make(random_noise=0.5)
    quiet = make(random_noise=0.0)
    quiet.load_state_dict(model.state_dict())
    model.eval()
    quiet.eval()
    with torch.no_grad():
        first, again, clean = model(batch), model(batch), quiet(batch)
    assert torch.equal(first, again)
    assert torch.equal(first, clean)
    model.train()
    with torch.no_grad():
        noisy = [model(batch) for _ in range(3)]
    assert any(not torch.allclose(n, clean) for n in noisy)


# ---------------------------------------------------------------------------------------------
# Tying and the gate
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("hops", [1, 3])
def test_parameter_counts_of_each_tying(hops):
    v = make().io.output_size
    d, m, a, k = 8, 50, 3, hops
    adjacent = (k + 1) * v * d + (k + 1) * m * d + (a - 1) * v * d
    layerwise = 3 * v * d + 2 * m * d + d * d + a * v * d
    assert make(hops=k).num_parameters() == adjacent
    assert make(hops=k, tying="layerwise").num_parameters() == layerwise
    assert make(hops=k, temporal=False).num_parameters() == adjacent - (k + 1) * m * d
    assert make(hops=k, answer_words=1).num_parameters() == adjacent - (a - 1) * v * d
    assert make("gated-memn2n", hops=k).num_parameters() == adjacent + k * (d * d + d)
    assert make("gated-memn2n", hops=k, gate_tying="global").num_parameters() == (
        adjacent + d * d + d
    )
    # layer-wise gated: the gate replaces H
    assert make(
        "gated-memn2n", hops=k, tying="layerwise", gate_tying="global"
    ).num_parameters() == (layerwise - d * d + d * d + d)


def test_gated_update_by_hand():
    u = torch.tensor([[1.0, -2.0]])
    o = torch.tensor([[3.0, 0.5]])
    w = torch.tensor([[0.5, 0.0], [1.0, 1.0]])
    b = torch.tensor([0.0, 1.0])
    # W u + b = [0.5, 0.0]; T = sigma of it
    t = torch.tensor([1 / (1 + math.exp(-0.5)), 0.5])
    expected = o * t + u * (1 - t)  # (87)
    torch.testing.assert_close(gated_update(u, o, w, b), expected)
    assert math.isclose(float(expected[0, 1]), 0.5 * 0.5 - 2.0 * 0.5)
    # a closed gate carries u over, an open one takes o
    big = torch.full((2,), 50.0)
    torch.testing.assert_close(gated_update(u, o, torch.zeros(2, 2), -big), u)
    torch.testing.assert_close(gated_update(u, o, torch.zeros(2, 2), big), o)


def test_gates_are_per_hop_or_global():
    hop, glob = make("gated-memn2n", hops=3), make("gated-memn2n", hops=3, gate_tying="global")
    assert hop.gate_weight.shape == (3, 8, 8) and glob.gate_weight.shape == (1, 8, 8)
    assert hop.H is None and glob.H is None
    assert models.get_model("gated-memn2n").Hparams().gate_tying == "hop"


# ---------------------------------------------------------------------------------------------
# Learning bAbI qa1
# ---------------------------------------------------------------------------------------------
def accuracy(model, batch):
    model.eval()
    with torch.no_grad():
        out = model(batch)
    return float((out[:, 0].argmax(-1) == batch["answer"][:, 0]).float().mean())


def test_memn2n_learns_babi_qa1():
    """The paper's model (3 hops, d = 20, PE, TE, LS, RN, adjacent tying) with the default
    optimiser, 1000 training questions; linear start ends on a held-out set of 100 others."""
    torch.manual_seed(0)
    model = models.create("memn2n", TASK)
    train = model.collate(memtasks.generate(TASK, 200, seed=0))
    held = model.collate(memtasks.generate(TASK, 20, seed=1))
    test = model.collate(memtasks.generate(TASK, 100, seed=0, split="test"))
    assert len(train["answer"]) == 1000 and len(test["answer"]) == 500

    settings, batch_size = model.optimizer, 32
    steps = math.ceil(1000 / batch_size)
    opt = settings.build(model.parameters())
    schedule = settings.schedule(opt, steps)
    order = torch.Generator().manual_seed(0)
    start, events = time.perf_counter(), []
    for epoch in range(1, 61):
        model.train()
        perm = torch.randperm(1000, generator=order)
        for i in range(steps):
            b = model.select(train, perm[i * batch_size : (i + 1) * batch_size])
            loss = model.loss(model(b), b)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.clip_norm)
            opt.step()
            schedule.step()
        model.eval()
        with torch.no_grad():
            held_loss = float(model.loss(model(held), held))
        events.append(model.end_of_epoch(epoch, held_loss))
        if not model.linear and accuracy(model, held) == 1.0:
            break
    seconds = time.perf_counter() - start
    acc = accuracy(model, test)
    print(f"memn2n qa1: {epoch} epochs, {seconds:.1f} s, test accuracy {acc:.3f}")
    assert sum(e is not None for e in events) == 1  # linear start ended, once
    assert acc >= 0.95
