"""``headstart --help`` and the parser import no torch; every command module follows the contract."""

from __future__ import annotations

import subprocess
import sys

from headstart import cli


def _run_python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_building_the_parser_imports_no_torch() -> None:
    code = (
        "import sys\n"
        "from headstart.cli import build_parser\n"
        "build_parser()\n"
        "heavy = sorted(m for m in ('torch', 'numpy', 'yaml', 'pluggy', 'transformers') if m in sys.modules)\n"
        "print(','.join(heavy))"
    )
    assert _run_python(code) == ""


def test_help_lists_every_command_without_importing_torch() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from headstart.cli import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('torch' in sys.modules)\n"
        "print(buf.getvalue())"
    )
    out = _run_python(code)
    torch_loaded, help_text = out.split("\n", 1)
    assert torch_loaded == "False"
    for name in ("plugins", "plan", "run", "compare", "report", "new-plugin"):
        assert name in help_text


def test_every_command_module_has_the_three_names() -> None:
    names = []
    for module in cli.command_modules():
        assert isinstance(module.HELP, str), module.__name__
        assert callable(module.add_arguments) and callable(module.run), module.__name__
        names.append(cli.command_name(module))
    assert len(names) == len(set(names))
    first = ["plugins", "plan", "run", "compare", "report", "new-plugin"]
    assert [n for n in names if n in first] == first
    assert names.index("predict") == names.index("run") + 1 and "evaluate" in names


def test_shared_arguments_are_the_same_in_every_command_that_takes_them() -> None:
    parser = cli.build_parser()
    for argv in (["predict", "R", "x.txt"], ["evaluate", "R", "--data", "d"]):
        args = parser.parse_args(argv)
        assert (args.run_dir, args.checkpoint, args.device, args.batch_size) == ("R", "best", "auto", 32)
    export = parser.parse_args(["export", "R", "--to", "onnx", "--checkpoint", "last"])
    assert (export.run_dir, export.checkpoint) == ("R", "last") and not hasattr(export, "device")
    for argv in (["plan", "e.yaml"], ["rank", "e.yaml"], ["run", "e.yaml"]):
        args = parser.parse_args([*argv, "--set", "a=1", "--set", "b=2"])
        assert (args.experiment, args.set) == ("e.yaml", ["a=1", "b=2"])
    assert parser.parse_args(["run", "--resume", "R"]).experiment is None
    assert parser.parse_args(["plan", "e.yaml", "--json"]).json and not parser.parse_args(["plugins"]).json


def test_listing_the_plugins_imports_no_model_library() -> None:
    # each plugin imports timm, torchvision, transformers or torchaudio only when it builds a
    # source or task; listing them must not pay for those imports (nor for torch's FSDP)
    code = (
        "import sys, contextlib, io\n"
        "from headstart.cli import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        "    main(['plugins'])\n"
        "sys.stdout.write(buf.getvalue())\n"
        "heavy = ('torchvision', 'timm', 'transformers', 'torchaudio', 'peft', 'torch.distributed.fsdp')\n"
        "print('imported:', ','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = _run_python(code)
    assert out.splitlines()[-1] == "imported:"
    assert "image-classification" in out and "timm" in out  # the vision plugin did register
