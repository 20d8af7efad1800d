"""``headstart compare``: a grid of runs from one file, one run directory per cell, resumable.

A matrix file::

    name: demo
    output_dir: runs/demo
    base: {trainer: {epochs: 3}}          # shared by every cell (any experiment keys)
    prerequisites:                         # runs other cells build on (e.g. a run: source)
      - {name: speech-source, config: examples/speech-source.yaml}
    experiments:                           # explicit source/task pairs (one per domain) …
      - {name: vision, source: {...}, task: {...}, trainer: {...}, budget_key: ..., seeds: [0], label_budgets: [50]}
    sources: [...]                         # … and/or a grid of sources × tasks
    tasks: [...]
    policies: [scratch, linear-probe, {name: top-k, k: 2}]
    seeds: [0, 1, 2]
    label_budgets: [10, 50]                # optional: sets task.<budget_key> per cell
    budget_key: max_per_class
    rank: true                             # optional: rank each task's sources first (LogME, H-score);
                                           # the report shows estimate vs result and Kendall's tau
    sweep: {trainer.lr: [1.0e-4, 3.0e-4]}  # optional: every combination is a configuration; a policy
                                           # entry may add its own ({name: discriminative, sweep: {policy.decay: [0.6, 0.8]}})

Cells are experiments × policies × label budgets × sweep configurations × seeds. The report picks,
for each (experiment, policy, budget), the configuration with the best mean validation value of
the monitored metric and reports its test metric over the seeds, with the chosen values. A cell whose directory has a
``summary.json`` is finished and is not run again; a cell interrupted mid-run continues from its
last checkpoint. Either is reused only if it was trained under the same settings: a matrix
changed since (another ``base``, …) is refused before any cell runs, naming the cell and keys.
"""

from __future__ import annotations

import copy
import gc
import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..engine.atomic import atomic_write_json
from ..engine.nonfinite import TrainingDiverged
from ..options import ConfigError, suggest
from ..rundir import RunDir, slug
from . import shared_sources
from .build import check_without_building, resolve_data_seed
from .config import apply_overrides, load_yaml, parse_config
from .lr import LearningRate
from .resume import NEUTRAL, differences
from .run import run_experiment

MATRIX_KEYS = (
    "name",
    "output_dir",
    "base",
    "prerequisites",
    "experiments",
    "sources",
    "tasks",
    "policies",
    "seeds",
    "label_budgets",
    "budget_key",
    "rank",
    "sweep",
)


@dataclass(frozen=True)
class Cell:
    """One run of a matrix."""

    experiment: str
    policy: str
    seed: int
    budget: int | None
    config: dict[str, Any]
    run_dir: Path
    sweep: tuple[tuple[str, Any], ...] = ()  # this cell's values of the swept keys

    @property
    def label(self) -> str:
        budget = f" × {self.budget}/class" if self.budget is not None else ""
        swept = "".join(f" × {k}={v}" for k, v in self.sweep)
        return f"{self.experiment} × {self.policy}{budget}{swept} × seed {self.seed}"

    def meta(self) -> dict[str, Any]:
        meta = {"experiment": self.experiment, "policy": self.policy, "seed": self.seed, "budget": self.budget}
        if self.sweep:
            meta["sweep"] = dict(self.sweep)
        return meta


def _sweep(value: Any, where: str) -> dict[str, list[Any]]:
    """A ``sweep`` mapping: dotted experiment keys (``trainer.lr``) to non-empty lists of values."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping of keys to lists, e.g. {{trainer.lr: [1.0e-4, 3.0e-4]}}")
    for key, values in value.items():
        if not isinstance(key, str) or "." not in key:
            raise ConfigError(f"{where}: {key!r} must be a dotted key such as trainer.lr or policy.decay")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}.{key}: expected a non-empty list of values, got {values!r}")
    return dict(value)


def _combinations(sweep: dict[str, list[Any]]) -> list[tuple[tuple[str, Any], ...]]:
    keys = sorted(sweep)
    return [tuple(zip(keys, values, strict=True)) for values in itertools.product(*(sweep[k] for k in keys))]


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _section(value: Any, where: str) -> dict[str, Any]:
    if isinstance(value, str):
        return {"name": value}
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        raise ConfigError(f"{where}: expected a name or a mapping with a name, got {value!r}")
    return dict(value)


@dataclass
class Matrix:
    """A parsed matrix file: its cells and prerequisites."""

    name: str
    output_dir: Path
    cells: list[Cell]
    prerequisites: list[tuple[str, dict[str, Any], Path]]
    rank: bool = False  # rank each task's sources (LogME, H-score) before the cells run


def load_matrix(path: str | Path, overrides: list[str] | None = None) -> Matrix:
    """Read a matrix file and expand it into cells (each cell's config validated)."""
    data = apply_overrides(load_yaml(path), overrides or [])
    for key in data:
        if key not in MATRIX_KEYS:
            raise ConfigError(
                f"{key}: unknown matrix key{suggest(key, MATRIX_KEYS)}. Valid keys: {', '.join(MATRIX_KEYS)}"
            )
    name = str(data.get("name") or Path(path).stem)
    output_dir = Path(data.get("output_dir") or Path("runs") / name)
    base = data.get("base") or {}
    if not isinstance(base, dict):
        raise ConfigError(f"base: expected a mapping of experiment keys, got {base!r}")

    experiments: list[tuple[str, dict[str, Any]]] = []
    for i, exp in enumerate(data.get("experiments") or []):
        if not isinstance(exp, dict) or "source" not in exp or "task" not in exp:
            raise ConfigError(f"experiments[{i}]: needs a source and a task (and a name)")
        exp = dict(exp)
        experiments.append((str(exp.pop("name", f"exp{i}")), exp))
    sources = [_section(s, f"sources[{i}]") for i, s in enumerate(data.get("sources") or [])]
    tasks = [_section(t, f"tasks[{i}]") for i, t in enumerate(data.get("tasks") or [])]
    for source, task in itertools.product(sources, tasks):
        experiments.append((f"{source['name']}+{task['name']}", {"source": source, "task": task}))
    if not experiments:
        raise ConfigError("a matrix needs experiments (source/task pairs) or sources and tasks")

    policies = [_section(p, f"policies[{i}]") for i, p in enumerate(data.get("policies") or [])]
    if not policies:
        raise ConfigError("policies: a matrix needs at least one policy")
    global_sweep = _sweep(data.get("sweep"), "sweep")
    sweeps = [{**global_sweep, **_sweep(p.pop("sweep", None), f"policies[{i}].sweep")} for i, p in enumerate(policies)]
    seeds = data.get("seeds", [0])
    if not isinstance(seeds, list) or not all(isinstance(s, int) for s in seeds) or not seeds:
        raise ConfigError(f"seeds: expected a list of integers, got {seeds!r}")
    default_budgets: list[int | None] = data.get("label_budgets") or [None]
    budgets = list(default_budgets)
    for _, exp in experiments:  # budgets an experiment asks for itself are cells of the matrix too
        budgets += [b for b in exp.get("label_budgets", []) if b not in budgets]
    budget_key = str(data.get("budget_key", "max_per_class"))

    cells = []
    policy_sweeps = [(p, combo) for p, sw in zip(policies, sweeps, strict=True) for combo in _combinations(sw)]
    for (exp_name, exp), (policy, combo), budget, seed in itertools.product(experiments, policy_sweeps, budgets, seeds):
        exp = dict(exp)
        key = str(exp.pop("budget_key", budget_key))  # a task whose budget option has another name
        if seed not in exp.pop("seeds", seeds):  # an experiment may run fewer seeds (an expensive one)
            continue
        if budget not in exp.pop("label_budgets", default_budgets):  # … or other label budgets
            continue
        config = _merge(_merge(base, exp), {"policy": policy, "seed": seed, "name": exp_name})
        if budget is not None:
            config["task"] = dict(config["task"], **{key: budget})
        config = apply_overrides(config, [f"{k}={json.dumps(v)}" for k, v in combo])
        trainer = config.setdefault("trainer", {})
        if isinstance(trainer, dict) and trainer.get("feature_cache_dir") is None:
            trainer["feature_cache_dir"] = str(output_dir / "feature_cache")  # features once per source
        try:
            check_without_building(parse_config(config))  # every cell is valid before any runs
        except ConfigError as exc:
            raise ConfigError(
                f"{exp_name} × {policy['name']}{''.join(f' × {k}={v}' for k, v in combo)}: {exc}"
            ) from None
        swept_here = {k for k, _ in combo}  # the label names the entry's fixed options; the sweep shows its own
        opts = ",".join(f"{k}={v}" for k, v in policy.items() if k != "name" and f"policy.{k}" not in swept_here)
        pname = f"{policy['name']}({opts})" if opts else policy["name"]
        swept = f"__{slug(','.join(f'{k}={v}' for k, v in combo))}" if combo else ""
        dirname = (
            f"{slug(exp_name)}__{slug(pname)}" + (f"__b{budget}" if budget is not None else "") + swept + f"__s{seed}"
        )
        cells.append(Cell(exp_name, pname, seed, budget, config, output_dir / dirname, combo))

    prerequisites = []
    for i, pre in enumerate(data.get("prerequisites") or []):
        if not isinstance(pre, dict) or "name" not in pre or "config" not in pre:
            raise ConfigError(f"prerequisites[{i}]: needs a name and a config file")
        cfg = apply_overrides(
            load_yaml(pre["config"]), [f"{k}={json.dumps(v)}" for k, v in (pre.get("set") or {}).items()]
        )
        prerequisites.append((str(pre["name"]), cfg, Path(pre.get("run_dir") or output_dir / slug(str(pre["name"])))))
    rank = data.get("rank", False)
    if not isinstance(rank, bool):
        raise ConfigError(f"rank: expected true or false, got {rank!r}")
    # every cell already reads <output_dir>/feature_cache, where a ranking leaves its train features
    return Matrix(name, output_dir, cells, prerequisites, rank)


def cell_done(run_dir: Path) -> bool:
    return RunDir(run_dir).is_finished()


def check_cell(config: dict[str, Any], run_dir: Path, label: str) -> None:
    """Refuse to reuse a cell directory whose run was trained under other settings."""
    stored_file = RunDir(run_dir).config
    if not stored_file.is_file():
        return
    requested = parse_config(config)
    resolve_data_seed(requested)  # as the run itself saves it: a label budget's draw is in config.yaml
    diffs = {
        k: v
        for k, v in differences(parse_config(load_yaml(stored_file)).to_dict(), requested.to_dict()).items()
        if k not in NEUTRAL
    }
    if diffs:
        shown = ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in diffs.items())
        raise ConfigError(
            f"{label}: {run_dir} was trained under other settings ({shown}); delete that directory to train it "
            "again with the matrix as it is now, or set another output_dir. Nothing was run."
        )


class CellsDiverged(TrainingDiverged):
    """Cells of a matrix whose training diverged (``cells``: label and error line of each); the
    other cells ran (``results``, as :func:`run_matrix` returns them)."""

    def __init__(self, cells: list[tuple[str, str]], total: int, results: list[tuple[Cell, dict[str, Any]]]) -> None:
        self.cells, self.total, self.results = cells, total, results
        first, message = cells[0]
        more = f" (and {len(cells) - 1} more: {'; '.join(c for c, _ in cells[1:])})" if len(cells) > 1 else ""
        super().__init__(
            f"{len(cells)} of {total} cells diverged: cell {first}: {message}{more}; the other cells ran "
            "(running compare again retries the diverged ones)"
        )


def run_cell(config: dict[str, Any], run_dir: Path, meta: dict[str, Any], label: str = "") -> dict[str, Any]:
    """Run one cell (continuing it if it was interrupted); returns its summary. A cell whose
    training diverges leaves ``diverged.json`` (its label and the error line) and re-raises."""
    files = RunDir(run_dir)
    if files.is_finished():
        return json.loads(files.summary.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(files.cell, meta)
    files.diverged.unlink(missing_ok=True)  # tried again
    resume = files.last.exists()
    try:
        _, summary = run_experiment(parse_config(config), run_dir, resume=resume)
    except TrainingDiverged as exc:
        atomic_write_json(files.diverged, {**meta, "cell": label or str(run_dir), "error": str(exc)})
        raise
    return summary


def run_matrix(matrix: Matrix, *, echo: Any = print) -> list[tuple[Cell, dict[str, Any]]]:
    """Run prerequisites, then every cell not yet finished, printing progress.

    A cell whose training diverges (``trainer.on_nonfinite``) is reported and the next cell runs;
    after the last one :class:`CellsDiverged` names every diverged cell (exit status 1). A
    prerequisite that diverges stops the matrix (cells may depend on it)."""
    for name, config, run_dir in matrix.prerequisites:  # nothing runs if any reuse would be wrong
        check_cell(config, run_dir, f"prerequisite {name}")
    for cell in matrix.cells:
        check_cell(cell.config, cell.run_dir, f"cell {cell.label}")
    for name, config, run_dir in matrix.prerequisites:
        state = "done" if cell_done(run_dir) else "running"
        echo(f"[prerequisite] {name} → {run_dir} ({state})")
        meta = {"experiment": name, "policy": config.get("policy"), "prerequisite": True}
        try:
            run_cell(config, run_dir, meta, f"prerequisite {name}")
        except TrainingDiverged as exc:
            raise TrainingDiverged(f"prerequisite {name}: {exc}; no cell ran (cells may build on it)") from None
    if matrix.rank:  # after the prerequisites: a run: source may be one of them
        from ..rank.compare import rank_matrix

        rank_matrix(matrix, echo=echo)
    results = []
    diverged: list[tuple[str, str]] = []
    total = len(matrix.cells)
    with shared_sources.sharing(), _gc_frozen():  # cells of one source, task and seed build the source once
        for i, cell in enumerate(matrix.cells, 1):
            done = cell_done(cell.run_dir)
            echo(f"[{i}/{total}] {cell.label}" + (" (finished earlier)" if done else ""))
            try:
                summary = run_cell(cell.config, cell.run_dir, cell.meta(), cell.label)
            except TrainingDiverged as exc:  # a result of this cell's settings: the other cells still run
                echo(f"        diverged: {exc}")
                diverged.append((cell.label, str(exc)))
                continue
            best = summary["best"]
            echo(f"        best {summary['monitor']} = {best['value']:.4f}  ({summary['wall_time_s']:.1f} s)")
            results.append((cell, summary))
    if diverged:
        raise CellsDiverged(diverged, total, results)
    return results


@contextmanager
def _gc_frozen() -> Iterator[None]:
    """Leave the objects that exist now (imported libraries, the registry: hundreds of thousands
    in a process that imported torch and transformers) out of Python's full garbage collections
    while the cells run: each cell allocates enough long-lived objects to trigger some, and one
    over everything cost 0.4 s on the vision example — as much as a cell's training. Objects
    made by the cells are collected as always; the frozen ones go back at the end."""
    if gc.get_freeze_count():  # frozen by the caller already: theirs to manage
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _waits_for(config: dict[str, Any], prerequisites: list[tuple[str, dict[str, Any], Path]]) -> str | None:
    """Why a cell cannot be built before its prerequisite ran (its source is ``run:`` of a
    prerequisite's run directory that has no finished run yet), or None."""
    source = str((config.get("source") or {}).get("name", ""))
    if not source.startswith("run:"):
        return None
    wanted = Path(source[len("run:") :]).expanduser().resolve()
    for name, _, run_dir in prerequisites:
        if Path(run_dir).expanduser().resolve() == wanted and not cell_done(run_dir):
            return f"its source is the run of prerequisite {name!r} ({run_dir}), which has not run yet; `headstart compare` runs it first"
    return None


def dry_run(matrix: Matrix, *, echo: Any = print) -> list[dict[str, Any]]:
    """Print every cell with its planned trainable parameters per phase and the learning rate in
    force (its origin: config, the policy's default, or ``auto``'s centre), training nothing.

    Components are built once per experiment × policy × budget × sweep configuration (a swept
    key such as ``policy.every`` or ``trainer.epochs`` changes the plan; seeds don't).
    """
    planned: dict[tuple[str, str, int | None, str], tuple[list[tuple[str, int]], LearningRate | None]] = {}
    rows = []
    for name, _, run_dir in matrix.prerequisites:
        echo(f"[prerequisite] {name} → {run_dir}" + (" (done)" if cell_done(run_dir) else ""))
    for i, cell in enumerate(matrix.cells, 1):
        key = (cell.experiment, cell.policy, cell.budget, json.dumps(cell.sweep, default=str))
        if key not in planned:
            planned[key] = _plan(cell, matrix.prerequisites, echo)
        phases, rate = planned[key]
        shown = ", ".join(f"{name} {n:,}" for name, n in phases) or "?"
        state = " (done)" if cell_done(cell.run_dir) else ""
        echo(
            f"[{i}/{len(matrix.cells)}] {cell.label} → {cell.run_dir}{state}\n        trainable: {shown}"
            + (f" · {_rate_text(rate)}" if rate is not None else "")
        )
        row = {**cell.meta(), "run_dir": str(cell.run_dir), "trainable": dict(phases)}
        if rate is not None:
            row["lr"] = rate.to_dict()
        rows.append(row)
    return rows


def _plan(
    cell: Cell, prerequisites: list[tuple[str, dict[str, Any], Path]], echo: Any
) -> tuple[list[tuple[str, int]], LearningRate | None]:
    """The trainable parameters per phase of ``cell`` and its learning rate; nothing (after
    saying why) when it cannot be built yet."""
    from .build import build

    waiting = _waits_for(cell.config, prerequisites)
    if waiting is not None:
        echo(f"        cannot plan {cell.label} yet: {waiting}")
        return [], None
    try:
        built = build(parse_config(cell.config))
    except Exception as exc:  # data missing, a bad key: show, keep going
        echo(f"        cannot plan {cell.label}: {exc}")
        return [], None
    return [(p.phase.name, p.trainable_numel) for p in built.plans()], built.lr


def _rate_text(rate: LearningRate) -> str:
    """``lr 0.00335 (head ×1, default)``: the rate a cell trains at and where it comes from."""
    origin = "auto: the centre of its grid" if rate.origin == "auto" else rate.origin
    return f"lr {rate.lr:.3g} (head ×{rate.head_lr_scale:g}, {origin})"
