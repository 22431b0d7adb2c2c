"""docs/architecture.md names every folder of the tree, and the library never imports ppi.bench."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
PAGE = ROOT / "docs" / "architecture.md"
TOP = ("ppi", "channels", "backbones", "fusion", "data", "scripts", "tests", "docs")


def _folders() -> set[str]:
    """Every code folder (with a .py file) under the user's top-level folders."""
    found = set()
    for top in TOP:
        for path in (ROOT / top).rglob("*.py"):
            rel = path.parent.relative_to(ROOT)
            if rel.parts[0] != "tests" or len(rel.parts) == 1:  # tests/ mirrors the rest
                found.add(f"{rel.as_posix()}/")
    return found


def test_the_architecture_page_has_a_line_for_every_folder():
    text = PAGE.read_text()
    missing = sorted(f for f in _folders() if f"`{f}`" not in text)
    assert not missing, f"docs/architecture.md has no line for {missing}"
    # and every folder it lists exists
    rows = [
        line.split("|")[1].strip().strip("`")
        for line in text.splitlines()
        if line.startswith("| `")
    ]
    assert rows and all((ROOT / r).is_dir() for r in rows), rows


def test_the_library_never_imports_the_benchmarks(tmp_path):
    code = (
        "import sys, importlib, pkgutil, ppi, ppi.commands, ppi.cli, ppi.model\n"
        "for m in pkgutil.iter_modules(ppi.commands.__path__):\n"
        "    importlib.import_module('ppi.commands.' + m.name)\n"
        "print(sorted(n for n in sys.modules if n.startswith('ppi.bench')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
