"""Resume only the run that was started: the requested config against the one in the run directory.

Keys fall in three groups:

* **neutral** — how the run is watched or where caches live, never what it computes
  (:data:`NEUTRAL`): a change is taken silently;
* **allowed on request** (:data:`ALLOWABLE`) — safe to change when the user says so with
  ``--allow-change KEY``: more epochs of a ``constant``-schedule run, patience, evaluation batch
  size, device;
* everything else changes the trajectory (learning rate, seed, optimizer, source, task, policy, …):
  a resume with a change there is refused with one line listing the differing keys, before
  anything in the run directory is touched.
"""

from __future__ import annotations

from typing import Any

from ..options import ConfigError

#: Keys whose value never changes what a run computes.
NEUTRAL = frozenset(
    {
        "name",
        "output_dir",
        "trainer.progress",
        "trainer.log_every",
        "trainer.num_workers",
        "trainer.feature_cache",
        "trainer.feature_cache_dir",
        "trainer.feature_cache_max_mb",
    }
)

#: Keys that may change on resume with ``--allow-change KEY``.
ALLOWABLE = frozenset(
    {
        "trainer.epochs",
        "trainer.patience",
        "trainer.min_delta",
        "trainer.eval_batch_size",
        "trainer.device",
        "trainer.compile",
        "trainer.strategy",
    }
)


class ResumeMismatchError(ConfigError):
    """The requested config differs from the run's own in a key that changes its trajectory."""


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """``{"trainer": {"lr": 1}}`` -> ``{"trainer.lr": 1}`` (lists stay values)."""
    if not isinstance(data, dict):
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out.update(flatten(value, path))
        else:
            out[path] = value
    return out


def differences(stored: dict[str, Any], requested: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Every flattened key whose value differs: ``key -> (stored, requested)`` (missing: None)."""
    a, b = flatten(stored), flatten(requested)
    return {k: (a.get(k), b.get(k)) for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)}


def _shown(diffs: dict[str, tuple[Any, Any]]) -> str:
    return ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in diffs.items())


def check_resume(
    stored: dict[str, Any], requested: dict[str, Any], allow: list[str] | tuple[str, ...] = (), where: str = "run"
) -> dict[str, tuple[Any, Any]]:
    """Refuse a resume whose config changes the run's trajectory; return the accepted changes.

    ``stored`` and ``requested`` are resolved configs (``ExperimentConfig.to_dict()``);
    ``allow`` lists the keys the user explicitly accepts (each must be in :data:`ALLOWABLE`).
    """
    for key in allow:
        if key not in ALLOWABLE:
            raise ResumeMismatchError(
                f"--allow-change {key}: not a key that can change on resume (it would change the run's "
                f"trajectory); allowed: {', '.join(sorted(ALLOWABLE))}"
            )
    diffs = {k: v for k, v in differences(stored, requested).items() if k not in NEUTRAL}
    refused = {k: v for k, v in diffs.items() if k not in allow}
    if refused:
        hint = [k for k in refused if k in ALLOWABLE]
        how = (
            f"pass --allow-change {' --allow-change '.join(hint)} to accept"
            if hint and len(hint) == len(refused)
            else "start a new run (another --run-dir) to train with other settings"
        )
        raise ResumeMismatchError(
            f"{where}: cannot resume with a changed config ({_shown(refused)}); {how}. Nothing was changed."
        )
    if "trainer.epochs" in diffs and (requested.get("trainer") or {}).get("schedule") != "constant":
        schedule = (requested.get("trainer") or {}).get("schedule")
        raise ResumeMismatchError(
            f"{where}: trainer.epochs can change on resume only with trainer.schedule = constant (the "
            f"{schedule} schedule's shape depends on the number of epochs); start a new run instead. "
            "Nothing was changed."
        )
    return diffs
