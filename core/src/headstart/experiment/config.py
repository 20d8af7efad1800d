"""Experiment files: YAML in, a validated :class:`ExperimentConfig` out.

An experiment has five sections::

    name: minilm-sst          # optional, used in the run directory's name
    seed: 0
    output_dir: runs
    source:  {name: "timm:resnet50", pretrained: true, ...}   # options go to the provider
    task:    {name: image-classification, data: {...}, ...}   # options go to the task factory
    policy:  {name: top-k, k: 2, norm_mode: train, keep_frozen: [], head_lr_scale: 1}
    trainer: {epochs: 3, lr: 1e-3, ...}                        # see TrainerSettings

Every key is checked before anything is built; an error names the key, the bad value and the
valid choices.
"""

from __future__ import annotations

import copy
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..engine.settings import TrainerSettings
from ..interfaces import NormMode
from ..options import ConfigError, check_options, coerce, suggest

TOP_LEVEL = ("name", "seed", "output_dir", "source", "task", "policy", "trainer")
POLICY_COMMON = {"norm_mode": NormMode | None, "keep_frozen": tuple[str, ...], "head_lr_scale": float}


@dataclass
class ExperimentConfig:
    """A validated experiment. ``source``, ``task`` and ``policy`` keep their ``name``."""

    source: dict[str, Any]
    task: dict[str, Any]
    policy: dict[str, Any]
    trainer: TrainerSettings = field(default_factory=TrainerSettings)
    name: str | None = None
    seed: int = 0
    output_dir: str = "runs"

    def to_dict(self) -> dict[str, Any]:
        """The resolved config, as saved in a run directory (defaults filled in)."""
        policy = dict(self.policy)
        if isinstance(policy.get("norm_mode"), NormMode):
            policy["norm_mode"] = policy["norm_mode"].value
        if "keep_frozen" in policy:
            policy["keep_frozen"] = list(policy["keep_frozen"])
        return {
            "name": self.name,
            "seed": self.seed,
            "output_dir": self.output_dir,
            "source": dict(self.source),
            "task": dict(self.task),
            "policy": policy,
            "trainer": asdict(self.trainer),
        }

    def options(self, section: str) -> dict[str, Any]:
        """A section without its ``name`` (and, for the policy, without the common keys)."""
        data = dict(getattr(self, section))
        data.pop("name", None)
        if section == "policy":
            for key in POLICY_COMMON:
                data.pop(key, None)
        return data


class _Loader(yaml.SafeLoader):
    """YAML with the booleans of YAML 1.2: only ``true`` / ``false`` are booleans, so labels such as
    ``yes``, ``no``, ``on``, ``off``, ``y`` and ``n`` stay strings (YAML 1.1 turns them into booleans)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def yaml_load(text: str) -> Any:
    """Parse YAML text as experiment files are parsed (YAML 1.2 booleans)."""
    return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no arbitrary objects


def load_yaml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: no such experiment file")
    try:
        data = yaml_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{p}:{mark.line + 1}" if mark else str(p)
        raise ConfigError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: an experiment file must be a mapping with keys {', '.join(TOP_LEVEL)}")
    return data


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.path=value`` overrides; values are parsed as YAML (``3``, ``1e-3``, ``[a, b]``).

    ``policy.name=<another policy>`` starts that policy from its defaults: the options of the
    file's policy are dropped (those every policy has — ``norm_mode``, ``keep_frozen``,
    ``head_lr_scale`` — stay), and later ``--set policy.…`` give the new policy's options."""
    data = copy.deepcopy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. trainer.epochs=3")
        if key == "policy.name":
            old = data.get("policy")
            old = {"name": old} if isinstance(old, str) else old
            if isinstance(old, dict) and old.get("name") != raw.strip():
                data["policy"] = {k: v for k, v in old.items() if k in POLICY_COMMON}
        parts = key.split(".")
        node = data
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {item!r}: {'.'.join(parts[: i + 1])} is not a section")
            node = child
        try:
            node[parts[-1]] = yaml_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            node[parts[-1]] = raw
    return data


def _section(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        raise ConfigError(f"{key}: missing; an experiment needs a {key} section with at least a name")
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a mapping (or just a name), got {value!r}")
    if not isinstance(value.get("name"), str) or not value["name"]:
        raise ConfigError(f"{key}.name: missing; say which {key} to use")
    return dict(value)


def parse_config(data: dict[str, Any]) -> ExperimentConfig:
    """Validate the structure, the trainer settings and the common policy keys."""
    for key in data:
        if key not in TOP_LEVEL:
            raise ConfigError(
                f"{key}: unknown top-level key{suggest(key, TOP_LEVEL)}. Valid keys: {', '.join(TOP_LEVEL)}"
            )
    trainer_data = data.get("trainer") or {}
    if not isinstance(trainer_data, dict):
        raise ConfigError(f"trainer: expected a mapping, got {trainer_data!r}")
    checked = check_options(TrainerSettings, trainer_data, "trainer")
    try:
        trainer = TrainerSettings(**checked)
    except ValueError as exc:
        raise ConfigError(f"trainer: {exc}") from None
    policy = _section(data, "policy")
    for key, tp in POLICY_COMMON.items():
        if key in policy:
            policy[key] = coerce(policy[key], tp, f"policy.{key}")
    if not policy.get("head_lr_scale", 1.0) > 0:
        raise ConfigError(f"policy.head_lr_scale = {policy['head_lr_scale']}: must be > 0")
    return ExperimentConfig(
        source=_section(data, "source"),
        task=_section(data, "task"),
        policy=policy,
        trainer=trainer,
        name=coerce(data.get("name"), str | None, "name"),
        seed=coerce(data.get("seed", 0), int, "seed"),
        output_dir=coerce(data.get("output_dir", "runs"), str, "output_dir"),
    )


def load_config(path: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    """Read, override and validate an experiment file."""
    return parse_config(apply_overrides(load_yaml(path), overrides or []))
