"""``headstart plugins``: every plugin, what it contributes, and the ones that failed to load."""

from __future__ import annotations

import argparse
import json

from .. import __version__
from ._options import add_json_option

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

HELP = "list plugins, what they contribute, and failures"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_json_option(parser)


def plugins_report() -> dict[str, Any]:
    """Every plugin with its version, hooks and contributions, and the ones that failed."""
    from ..plugins import get_plugin_system

    system = get_plugin_system()
    plugins = []
    for name, info in system.infos.items():
        try:
            contributes = system.plugin_contributions(name)
            descriptions = system.plugin_descriptions(name)
            error = None
        except Exception as exc:  # a plugin whose hook raises is still listed
            contributes, descriptions, error = {}, {}, f"{type(exc).__name__}: {exc}"
        plugins.append(
            {
                "name": name,
                "distribution": info.distribution,
                "version": info.version,
                "builtin": info.builtin,
                "module": info.module,
                "hooks": info.hooks,
                "contributes": contributes,
                "descriptions": descriptions,
                **({"error": error} if error else {}),
            }
        )
    failed = [{"name": f.name, "source": f.source, "error": f.error} for f in system.failures]
    return {"headstart": __version__, "plugins": plugins, "failed": failed}


def _print_plugins(report: dict[str, Any]) -> None:
    print(f"headstart {report['headstart']}")
    for p in report["plugins"]:
        origin = "built-in" if p["builtin"] else f"{p['distribution'] or '?'} {p['version'] or ''}".strip()
        print(f"\n{p['name']}  ({origin})")
        for kind, names in p["contributes"].items():
            if kind == "policies" and names:  # each policy on its own line, with what it does
                width = max(len(n) for n in names)
                for i, n in enumerate(names):
                    described = f"{n:<{width}}  {p['descriptions'].get(n, '')}".rstrip()
                    print(f"  {kind if i == 0 else '':<12} {described}")
            elif names:
                shown = [f"{n}:…" for n in names] if kind == "sources" else names
                print(f"  {kind:<12} {', '.join(shown)}")
        events = [h for h in p["hooks"] if h.startswith("headstart_on_")]
        if events:
            print(f"  {'events':<12} {', '.join(events)}")
        if p.get("error"):
            print(f"  {'ERROR':<12} {p['error']}")
    if report["failed"]:
        print("\nfailed to load:")
        for f in report["failed"]:
            print(f"  {f['name']} ({f['source']}): {f['error']}")


def run(args: argparse.Namespace) -> int:
    from ..registry import get_registry

    report = plugins_report()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_plugins(report)
    get_registry()  # duplicate names across plugins are an error worth showing
    return 0
