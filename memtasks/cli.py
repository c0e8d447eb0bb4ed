"""The ``memtasks`` command line (DESIGN.md section 7).

Bad input ends with one line on stderr that names what is wrong and what is allowed, and a
nonzero exit status: 2 for a malformed command line, 1 for a value the task refuses, 130 when
interrupted. No traceback, and nothing is written.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from pathlib import Path

import click

from .errors import KnobError, MemtasksError, did_you_mean
from .registry import INDEX_STOP

# episode indices are int64 and start + n must be one too: the last start any n >= 1 allows
_LAST_START = INDEX_STOP - 1


def _pairs(knobs_cls, items: tuple[str, ...], flag: str, example: str) -> dict:
    """``FLAG name=value`` pairs parsed to the types of a ``Knobs`` class's fields."""
    values = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise KnobError(f"{flag} takes name=value (e.g. {flag} {example}), got {item!r}")
        values[name.strip()] = knobs_cls.parse(name.strip(), text)
    return values


def _knob_values(spec, settings: tuple[str, ...]) -> dict:
    """``--set k=v`` pairs parsed to the knobs' types."""
    return _pairs(spec.knobs, settings, "--set", "max_length=30")


def _spec_and_knobs(task: str, preset: str | None, settings: tuple[str, ...]):
    from .registry import get_task

    spec = get_task(task)
    return spec, spec.make_knobs(preset, **_knob_values(spec, settings))


_task = click.argument("task")
_preset = click.option("--preset", help="named knob values (see `memtasks info TASK`)")
_set = click.option(
    "--set", "settings", multiple=True, metavar="KNOB=VALUE", help="set a knob (repeatable)"
)
_seed = click.option("--seed", type=click.IntRange(0, 2**64 - 1), default=0, show_default=True)
_split = click.option("--split", default="train", show_default=True, help="stream name")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="memtasks")
def cli() -> None:
    """Tasks and datasets for studying memory architectures."""


@cli.command("list")
@click.argument("family", required=False)
def list_command(family: str | None) -> None:
    """Tasks and datasets, one per line (only FAMILY's when given); datasets of real data are
    marked [dataset]."""
    from .registry import get_spec, list_datasets, list_tasks

    tasks, datasets = list_tasks(family), list_datasets(family)
    ids = sorted(tasks + datasets)
    if family and not ids:
        families = sorted({t.split("/")[0] for t in list_tasks() + list_datasets()})
        raise MemtasksError(
            f"no family {family!r}{did_you_mean(family, families)}; families: {', '.join(families)}"
        )
    width = max(len(t) for t in ids)
    for task in ids:
        spec = get_spec(task)
        mark = "[dataset] " if task in datasets else ""
        if getattr(spec, "superseded_by", ""):
            mark = f"[superseded by {spec.superseded_by}] "
        click.echo(f"{task:<{width}}  {mark}{spec.summary}")


@cli.command()
@_task
def info(task: str) -> None:
    """A task's or dataset's knobs, presets, layout, metric and card (a dataset's: its splits,
    source files and how to get them)."""
    from .datasets import DatasetSpec
    from .registry import get_spec

    spec = get_spec(task)
    if isinstance(spec, DatasetSpec):
        _dataset_info(spec)
        return
    knobs = spec.knobs()
    layout = spec.layout(knobs)
    click.echo(f"{spec.id}: {spec.summary}")
    if spec.superseded_by:
        click.echo(f"superseded by {spec.superseded_by}: {spec.superseded_why}")
    click.echo(f"source: {spec.source}")
    card = spec.card.relative_to(spec.card.parents[2])  # data_cards/<family>/<name>.md
    click.echo(f"card:   {card}{'' if spec.card.is_file() else ' (in the source repository)'}")
    click.echo("\nknobs:")
    rows = [(name, repr(default), info.allowed(), info.doc) for name, (default, info) in
            spec.knobs.infos().items()]  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for name, default, allowed, doc in rows:
        click.echo(f"  {name:<{widths[0]}}  {default:<{widths[1]}}  {allowed:<{widths[2]}}  {doc}")
    click.echo("\npresets:")
    for name, values in spec.presets.items():
        shown = ", ".join(f"{k}={v!r}" for k, v in values.items()) or "(the defaults)"
        click.echo(f"  {name}: {shown}")
    _echo_axes(spec)
    click.echo("\nlayout (with the default knobs):")
    if layout.input_channels:
        click.echo(f"  inputs  {layout.input_dtype}[T, {layout.input_width}]: "
                   + ", ".join(layout.input_channels))  # fmt: skip
        click.echo(f"  targets {layout.target_dtype}[T, {layout.target_width}]: "
                   + ", ".join(layout.target_channels))  # fmt: skip
    else:
        click.echo(f"  tokens, vocabulary of {len(layout.vocab)}")
    click.echo(f"\nmetric: {spec.metric.name}: {spec.metric.description}")


def _echo_axes(spec) -> None:
    """The difficulty axes of ``memtasks info``: knob, direction, range, ladder, why."""
    from .axes import axes

    found = axes(spec)
    click.echo("\ndifficulty axes (harder: the direction that makes the task harder; ladder: "
               "easiest first):" if found else "\ndifficulty axes: none declared")  # fmt: skip
    rows = [(a.knob, a.direction, f"[{a.shown(a.range[0])}, {a.shown(a.range[1])}]",
             ", ".join(a.shown(v) for v in a.ladder), a.why) for a in found]  # fmt: skip
    widths = [max((len(r[i]) for r in rows), default=0) for i in range(4)]
    for knob, harder, span, ladder, why in rows:
        click.echo(f"  {knob:<{widths[0]}}  harder {harder:<4}  {span:<{widths[2]}}  "
                   f"ladder {ladder:<{widths[3]}}  {why}")  # fmt: skip


def _dataset_info(spec) -> None:
    """``memtasks info`` of a dataset of real data."""
    knobs = spec.knobs()
    click.echo(f"{spec.id}: {spec.summary}  [dataset of real data]")
    click.echo(f"source: {spec.source}")
    card = spec.card.relative_to(spec.card.parents[2])  # data_cards/<family>/<name>.md
    click.echo(f"card:   {card}{'' if spec.card.is_file() else ' (in the source repository)'}")
    click.echo(f"\nsplits: {', '.join(spec.splits)}")
    click.echo("\nsource files (with the default knobs; sha256 of the original release):")
    for split in spec.splits:
        for file in spec.files(knobs, split)[:1]:  # the split's own file first
            digest = file.sha256 or "not known"
            click.echo(f"  {split:<10}  {file.name}  sha256 {digest}")
    click.echo("\nhow to get them:")
    click.echo(f"  {spec.acquire_line()}")
    if spec.env_subdir:
        click.echo(f"  or put them under $MEMTASKS_DATA/{spec.env_subdir}")
    if spec.hub_id:
        click.echo(f"  or pass --hub (Hugging Face Hub: {spec.hub_id}; needs the network)")
    click.echo(f"  then: memtasks load {spec.id} --path PATH --out DIR [--split SPLIT]")
    click.echo("\nknobs:")
    rows = [(name, repr(default), info.allowed(), info.doc) for name, (default, info) in
            spec.knobs.infos().items()]  # fmt: skip
    if rows:
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for name, default, allowed, doc in rows:
            click.echo(
                f"  {name:<{widths[0]}}  {default:<{widths[1]}}  {allowed:<{widths[2]}}  {doc}"
            )
    _echo_axes(spec)
    layout = spec.layout(knobs)
    click.echo("\nlayout:")
    if layout.input_channels:
        click.echo(f"  inputs {layout.input_dtype}[T, {layout.input_width}], targets "
                   f"{layout.target_dtype}[T, {layout.target_width}]")  # fmt: skip
    elif spec.vocab is not None:
        click.echo("  tokens, vocabulary read from the source files")
    else:
        click.echo(f"  tokens, vocabulary of {len(layout.vocab)}")
    metric = spec.metric
    click.echo(f"\nmetric: {metric.name}: {getattr(metric, 'description', '')}")


@cli.command()
@_task
@click.option("-n", "count", type=click.IntRange(1, 1000), default=3, show_default=True)
@_seed
@_split
@click.option("--start", type=click.IntRange(0, _LAST_START), default=0, show_default=True)
@click.option(
    "--max-chars",
    type=click.IntRange(0),
    default=20_000,
    show_default=True,
    help="print at most this many characters in all (0: no cap); stderr says what was cut",
)
@_preset
@_set
@click.option("--path", type=click.Path(path_type=Path), default=None,
              help="a dataset's source files: a folder or the downloaded archive")  # fmt: skip
@click.option("--checksums/--no-checksums", default=True, show_default=True,
              help="datasets: refuse source files whose SHA-256 is not the release's")  # fmt: skip
def show(task, count, seed, split, start, max_chars, preset, settings, path, checksums) -> None:
    """Print episodes as readable text (bit grids for vector tasks); a dataset's are read from
    its source files (--path, else $MEMTASKS_DATA)."""
    from .datasets import DatasetSpec, read
    from .registry import get_spec
    from .show import render_capped

    spec = get_spec(task)
    if isinstance(spec, DatasetSpec):
        # the same episodes `memtasks load` writes: the split read whole, then the slice shown
        values = _knob_values(spec, settings)
        loaded = read(spec.id, split, path, checksums=checksums, preset=preset, **values)
        if start >= len(loaded.batch):
            raise MemtasksError(
                f"--start {start} is past the {len(loaded.batch):,} episodes of {spec.id} "
                f"split {split}; allowed: 0 to {len(loaded.batch) - 1:,}"
            )
        batch, layout = loaded.batch[start : start + count], loaded.layout
    else:
        if path is not None:
            raise MemtasksError(
                f"--path reads a dataset's source files; {spec.id} is a generated task "
                "(`memtasks list` marks datasets [dataset])"
            )
        spec, knobs = _spec_and_knobs(task, preset, settings)
        batch = spec.generate(count, seed, split, start=start, knobs=knobs)
        layout = spec.layout(knobs)
    text, cut = render_capped(batch, count, layout, max_chars)
    click.echo(text)
    if cut:
        click.echo(f"memtasks: {cut}", err=True)


@cli.command()
@_task
@click.option("-n", "count", type=click.IntRange(1), required=True, help="number of episodes")
@_seed
@_split
@click.option("--out", type=click.Path(path_type=Path), required=True, help="dataset folder")
@click.option(
    "--format",
    "fmt",
    default="parquet",
    show_default=True,
    callback=lambda ctx, param, value: _format_name(value),
    help="parquet, jsonl, or a format a family registers (its own text format); `memtasks "
    "formats` lists them with their options",
)
@click.option(
    "--format-option",
    "format_options",
    multiple=True,
    metavar="NAME=VALUE",
    help="an option of the format (repeatable; `memtasks formats` lists them)",
)
@click.option(
    "--dedup-against",
    "dedup_against",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    metavar="N",
    help="leave out episodes whose story is one of training episodes 0..N-1 (same task, "
    "knobs, seed); not for --split train",
)
@click.option(
    "--shards", type=click.IntRange(1), help="files to split into (default: ~500 MB each)"
)
@click.option("--workers", type=click.IntRange(1), default=1, show_default=True,
              help="processes writing shards in parallel")  # fmt: skip
@click.option("--start", type=click.IntRange(0, _LAST_START), default=0, show_default=True,
              help="index of the first episode")  # fmt: skip
@_preset
@_set
@click.option("--overwrite", is_flag=True, help="replace an existing dataset at --out")
@click.option("--force-size", is_flag=True,
              help="write even if the estimated size exceeds the free disk space")  # fmt: skip
@click.option("--quiet", "-q", is_flag=True, help="no progress bar")
def generate(task, count, seed, split, out, fmt, format_options, dedup_against, shards, workers,
             start, preset, settings, overwrite, force_size, quiet) -> None:  # fmt: skip
    """Generate a dataset folder of Parquet (or JSONL, or a family's text) files and
    memtasks.json."""
    from tqdm import tqdm

    from .storage import write_dataset

    spec, _ = _spec_and_knobs(task, preset, settings)  # refuse bad knobs before any output
    options = _format_options(format_options)
    began = time.perf_counter()
    bar = planning_bar = None

    def progress(episodes: int) -> None:
        nonlocal bar
        if planning_bar is not None:
            planning_bar.close()
        if bar is None:  # created on the first finished piece, after all checks have passed
            bar = tqdm(total=count, unit="ep", unit_scale=True, disable=quiet, file=sys.stderr,
                       desc=spec.id, dynamic_ncols=True)  # fmt: skip
        bar.update(episodes)

    def planning(episodes: int, total: int) -> None:
        nonlocal planning_bar
        if planning_bar is None:  # dedup hashes training and held-out stories first
            planning_bar = tqdm(total=total, unit="ep", unit_scale=True, disable=quiet,
                                file=sys.stderr, desc="dedup: hashing stories",
                                dynamic_ncols=True)  # fmt: skip
        if planning_bar.n + episodes > planning_bar.total:  # draws past n: the total grows
            planning_bar.total = planning_bar.n + episodes
        planning_bar.update(episodes)

    def notice(line: str) -> None:
        click.echo(f"memtasks: {line}", err=True)

    try:
        with _sigterm_as_interrupt():
            manifest = write_dataset(
                out, spec.id, count, seed, split, start=start, preset=preset,
                knobs=_knob_values(spec, settings), shards=shards, workers=workers, format=fmt,
                overwrite=overwrite, progress=progress, dedup_against=dedup_against,
                force_size=force_size, planning=planning, notice=notice, **options,
            )  # fmt: skip
    finally:
        for shown in (planning_bar, bar):
            if shown is not None:
                shown.close()
    seconds = time.perf_counter() - began
    size = sum(f.stat().st_size for f in Path(out).rglob("*") if f.is_file())
    dropped = ""
    if dedup_against:
        dropped = (
            f"; left out {manifest['dedup_dropped']:,} whose story is among training episodes "
            f"0..{dedup_against - 1}"
        )
    click.echo(
        f"wrote {manifest['num_episodes']:,} episodes of {spec.id} (seed {seed}, split {split}) "
        f"to {out} in {len(manifest['files'])} {fmt} file(s), {size / 1e6:,.1f} MB, "
        f"{seconds:.1f} s; content hash {manifest['content_hash'][:16]}{dropped}"
    )


def _format_name(value: str) -> str:
    """``--format``: a registered format (a malformed command line otherwise: exit 2)."""
    from .formats import get_format

    try:
        return get_format(value).name
    except MemtasksError as exc:
        raise click.BadParameter(str(exc)) from None


def _format_options(items: tuple[str, ...]) -> dict:
    """``--format-option name=value`` pairs (the format parses and checks the values)."""
    values = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise MemtasksError(
                f"--format-option takes name=value (e.g. --format-option shuffled=true), got "
                f"{item!r}"
            )
        values[name.strip()] = text
    return values


@cli.command()
def formats() -> None:
    """The formats datasets are written in, and their options (--format, --format-option)."""
    from .formats import get_format, names

    for name in names():
        fmt = get_format(name)
        click.echo(f"{name:<8}  {fmt.describe()}")
        for option in fmt.options.values():
            kind = {bool: "true/false", int: "integer", str: "text"}[option.kind]
            click.echo(f"  --format-option {option.name}=({kind}, default {option.default!r}): "
                       f"{option.doc}")  # fmt: skip


@cli.command()
@click.argument("dataset")
@click.option(
    "--path",
    type=click.Path(path_type=Path),
    help="the original files: a folder or the downloaded archive (.tar.gz, .tgz, .zip); "
    "default: $MEMTASKS_DATA/<the dataset's folder>",
)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="dataset folder")
@click.option("--split", default="train", show_default=True, help="which split to write")
@_preset
@_set
@click.option("--format", "fmt", default="parquet", show_default=True,
              callback=lambda ctx, param, value: _format_name(value),
              help="parquet or jsonl")  # fmt: skip
@click.option("--shards", type=click.IntRange(1), default=1, show_default=True,
              help="files to split into")  # fmt: skip
@click.option("--overwrite", is_flag=True, help="replace an existing dataset at --out")
@click.option("--hub", is_flag=True,
              help="fetch the files from the Hugging Face Hub (needs the network; only where "
              "the dataset has a Hub copy)")  # fmt: skip
@click.option("--checksums/--no-checksums", default=True, show_default=True,
              help="refuse source files whose SHA-256 is not the release's")  # fmt: skip
@click.option("--quiet", "-q", is_flag=True, help="no progress bar")
def load(dataset, path, out, split, preset, settings, fmt, shards, overwrite, hub, checksums,
         quiet) -> None:  # fmt: skip
    """Read a dataset of real data from its original files and write the same dataset folder
    as `generate` (Parquet shards and memtasks.json naming the source files and their hashes)."""
    from tqdm import tqdm

    from .registry import get_dataset
    from .storage import load_dataset

    spec = get_dataset(dataset)
    knobs = _pairs(spec.knobs, settings, "--set", "task=3")
    began = time.perf_counter()
    bar = None

    def progress(episodes: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(unit="ep", unit_scale=True, disable=quiet, file=sys.stderr,
                       desc=spec.id, dynamic_ncols=True)  # fmt: skip
        bar.update(episodes)

    def notice(line: str) -> None:
        click.echo(f"memtasks: {line}", err=True)

    try:
        with _sigterm_as_interrupt():
            manifest = load_dataset(
                out, spec.id, split, path, knobs, preset=preset, format=fmt, shards=shards,
                overwrite=overwrite, hub=hub, checksums=checksums, progress=progress,
                notice=notice,
            )  # fmt: skip
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - began
    sources = manifest["sources"]
    checked = "" if checksums else " (checksums not checked: --no-checksums)"
    click.echo(
        f"wrote {manifest['num_episodes']:,} episodes of {spec.id} (split {split}) to {out} in "
        f"{len(manifest['files'])} {fmt} file(s), {seconds:.1f} s, from {len(sources)} source "
        f"file(s){checked}; content hash {manifest['content_hash'][:16]}"
    )


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM (kill, a batch system's time limit) takes Ctrl-C's way out: workers stopped,
    the temporary folder removed, exit 130. Its default would end the process on the spot and
    leave both behind."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (an embedding program): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--regenerate/--no-regenerate",
    default=True,
    show_default=True,
    help="regenerate a sample of episodes from the manifest's task, knobs, seed and split and "
    "compare them with the stored ones (needs the generator version that made the data)",
)
def verify(path: Path, regenerate: bool) -> None:
    """Check a dataset folder: its manifest, its content hash, its stored indices and (unless
    --no-regenerate) a regenerated sample of its episodes."""
    from .storage import check_dataset

    result = check_dataset(path, regenerate=regenerate)
    manifest, digest = result.manifest, result.digest
    what = f"content hash {digest[:16]}"
    if digest != manifest["content_hash"]:  # a format that does not keep every field (text)
        from .formats import get_format

        title = get_format(manifest["format"]).title or manifest["format"]
        made = "generated" if "task" in manifest else "written"
        what = (
            f"{title} read back to hash {digest[:16]} (content hash when {made} "
            f"{manifest['content_hash'][:16]})"
        )
    if "dataset" in manifest and "task" not in manifest:  # written by `memtasks load`
        files = ", ".join(f"{s['name']} ({s['sha256'][:12]})" for s in manifest["sources"])
        click.echo(
            f"ok: {manifest['num_episodes']:,} episodes of {manifest['dataset']} (split "
            f"{manifest['split']!r}), {what}; stored indices match the files' episode ranges; "
            f"loaded from source files, so nothing is regenerated: the manifest records them "
            f"and their sha256 ({files}); `memtasks load` again to compare with the originals"
        )
        return
    if regenerate:
        made = (
            f"{result.regenerated:,} episodes (the first, the last and others at random) "
            f"regenerated from its task, knobs, seed {manifest['seed']} and split "
            f"{manifest['split']!r} match the stored ones"
        )
        against = manifest.get("dedup_against", 0)
        if against:
            made += (
                f"; dedup: their stories are not among training episodes 0..{against - 1}, "
                f"and those of the {result.left_out:,} left-out episodes checked are"
            )
    else:
        made = "not regenerated (--no-regenerate): task, knobs, seed and split are unchecked"
    click.echo(
        f"ok: {manifest['num_episodes']:,} episodes of {manifest['task']}, {what}; stored "
        f"indices match the files' episode ranges; {made}"
    )


@cli.command()
@click.argument("tasks", nargs=-1)
@click.option("--episodes", type=click.IntRange(64, INDEX_STOP), default=1 << 16, show_default=True,
              help="episodes per measurement (bulk: one call; stream: batches)")  # fmt: skip
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True,
              help="episodes per generate call in the stream measurement (at most --episodes)",
              )  # fmt: skip
@click.option("--compile/--no-compile", "measure_compile", default=True, show_default=True,
              help="also time a cold Numba compile in a fresh process")  # fmt: skip
def bench(tasks, episodes, batch_size, measure_compile) -> None:
    """Generation throughput of TASKS (all tasks when none) on one core and on all cores."""
    from .bench import bench_task, format_results
    from .registry import get_spec, list_tasks

    if batch_size > episodes:  # the stream would make one call of more episodes than asked
        raise MemtasksError(
            f"--batch-size must be at most --episodes ({episodes}), got {batch_size}"
        )
    ids = [get_spec(t).id for t in tasks] or list_tasks()
    results = [
        bench_task(t, episodes=episodes, batch_size=batch_size, compile=measure_compile)
        for t in ids
    ]
    click.echo(format_results(results))


class _LazyCommand(click.Command):
    """A command defined in a module loaded on first use (so that ``memtasks --help`` and the
    data commands never import torch): parsing, help and invocation go to the real command."""

    def __init__(self, name: str, target: str, short_help: str, needs: str) -> None:
        super().__init__(name, short_help=short_help)
        self._target, self._needs, self._real = target, needs, None

    def real(self) -> click.Command:
        if self._real is None:
            import importlib

            module, _, attr = self._target.partition(":")
            try:
                self._real = getattr(importlib.import_module(module), attr)
            except ModuleNotFoundError as exc:
                if exc.name != self._needs:
                    raise
                raise MemtasksError(
                    f"memtasks {self.name} needs {self._needs}: pip install -e '.[{self._needs}]'"
                ) from None
        return self._real

    @property
    def params(self):  # click reads them for completion and help; the real command's
        return self.real().params

    @params.setter
    def params(self, value) -> None:  # set empty by click.Command.__init__
        pass

    def make_context(self, info_name, args, parent=None, **extra):
        return self.real().make_context(info_name, args, parent=parent, **extra)

    def get_help(self, ctx) -> str:
        return self.real().get_help(ctx)


# `memtasks baseline` lives with the models (memtasks.models.training.command), which need torch
cli.add_command(
    _LazyCommand(
        "baseline",
        "memtasks.models.training.command:baseline",
        "Train a reference model (or a paper's variant of it) on a task or dataset.",
        needs="torch",
    )
)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the command, turning bad input into one line and an exit status."""
    try:
        cli.main(args=argv, prog_name="memtasks", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("memtasks: interrupted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("memtasks: interrupted; nothing was written", err=True)
        sys.exit(130)
    except click.ClickException as exc:  # malformed command line: click's own message
        message = exc.format_message().replace("\n", " ")
        hint = ""
        ctx = getattr(exc, "ctx", None)
        if ctx is not None:
            hint = f" (see `{ctx.command_path} --help`)"
        click.echo(f"memtasks: error: {message}{hint}", err=True)
        sys.exit(exc.exit_code)
    except MemtasksError as exc:  # a value the library refuses
        click.echo(f"memtasks: error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
