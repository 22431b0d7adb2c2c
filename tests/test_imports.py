"""Every module imports as ppi.* from any working directory (the package-dir mapping holds)."""

import pkgutil
import subprocess
import sys


def test_every_module_imports_from_a_foreign_directory(tmp_path):
    import ppi.backbones
    import ppi.channels
    import ppi.data
    import ppi.fusion

    names = set()
    for pkg in (ppi, ppi.backbones, ppi.channels, ppi.data, ppi.fusion):
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            names.add(info.name)
    assert {
        "ppi.backbones.esm2",
        "ppi.channels.sequence",
        "ppi.fusion.heads",
        "ppi.data.fasta",
        "ppi.commands.train",
    } <= names
    code = "import importlib, sys\nfor n in sys.argv[1:]: importlib.import_module(n)\nprint('ok')"
    done = subprocess.run(
        [sys.executable, "-c", code, *sorted(names)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"


def test_no_top_level_channels_or_data_package_leaks(tmp_path):
    code = "import importlib.util as u; print(u.find_spec('channels'), u.find_spec('backbones'))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "None None"
