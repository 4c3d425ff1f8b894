"""The package outside its checkout: the wheel, installed into a fresh virtual environment, indexes a
small kernel and renders a small MkDocs project of its own.

Slow (about 20 s: a wheel build, a venv, an index and a site build, each in a subprocess); marked
`wheel` so that it can be deselected while working (`-m "not wheel"`), and run by `make test`.
Nothing is downloaded: the wheel is built without build isolation, installed with --no-deps
--no-index, and the dependencies are those of the running environment, seen through a .pth file.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .sitekit import INDEX_MD, MKDOCS_YML, REPO, write_demo_kernel

_CAN_BUILD = importlib.util.find_spec("setuptools.command.bdist_wheel") is not None or importlib.util.find_spec("wheel") is not None

pytestmark = [
    pytest.mark.wheel,
    pytest.mark.skipif(not _CAN_BUILD, reason="building a wheel needs setuptools>=70.1 or wheel (the test extras: make setup)"),
]


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{argv}\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def _source_copy(dest: Path) -> Path:
    """What the wheel is built from (a copy, so that the build leaves nothing in the checkout)."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, dest / name)
    shutil.copytree(REPO / "explorer", dest / "explorer", ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def test_the_wheel_renders_a_site_outside_the_checkout(tmp_path: Path) -> None:
    src = _source_copy(tmp_path / "src")
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(dist), str(src)],
         cwd=tmp_path)
    (wheel,) = dist.glob("kernel_explorer-*.whl")

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)], cwd=tmp_path)
    purelib = Path(_run([str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp_path).strip())
    # the dependencies (MkDocs, material, tree-sitter, Pygments) from the running environment's
    # site-packages folders, after the venv's own; never a folder holding the package itself (the
    # checkout). The venv of `make test` lies inside the checkout, but its site-packages holds only
    # an editable install's finder, whose .pth file is not run for a folder named in another .pth.
    deps = [p for p in sys.path if "-packages" in p and Path(p).is_dir() and not (Path(p) / "explorer").exists()]
    (purelib / "kx_test_dependencies.pth").write_text("".join(f"{p}\n" for p in deps), encoding="utf-8")

    project = tmp_path / "project"
    write_demo_kernel(project / "kernel-snippets")
    (project / "docs").mkdir()
    (project / "docs" / "index.md").write_text(INDEX_MD, encoding="utf-8")
    # no `snippets:` option: the default is kernel-snippets/ beside mkdocs.yml, not the package's checkout
    config = MKDOCS_YML.format(site_dir="site").replace("      snippets: kernel-snippets\n", "")
    assert "snippets" not in config
    (project / "mkdocs.yml").write_text(config, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "KEXPLORE_SNIPPETS"))}
    env["NO_MKDOCS_2_WARNING"] = "1"

    # the plugin MkDocs finds is the wheel's, not the checkout's
    where = _run([str(python), "-I", "-c",
                  "import sys; from mkdocs.plugins import get_plugins; cls = get_plugins()['kernel-explorer'].load(); "
                  "print(sys.modules[cls.__module__].__file__)"], cwd=project, env=env).strip()
    assert Path(where).is_relative_to(purelib), where
    assert not Path(where).is_relative_to(REPO), where

    _run([str(python), "-I", "-m", "explorer", "index", "--snippets", str(project / "kernel-snippets")], cwd=project, env=env)
    _run([str(python), "-I", "-m", "mkdocs", "build", "--strict", "-q"], cwd=project, env=env)

    site = project / "site"
    source = (site / "demo-1.0/source/net/demo/demo_core.c/index.html").read_text(encoding="utf-8")
    assert 'class="kx-source"' in source and "demo_alloc_queue</a>" in source
    # the package's own template for source pages: material's page without the navigation sidebar
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "md-sidebar--primary" in home
    assert "md-sidebar--primary" not in source
    symbol = (site / "demo-1.0/symbol/demo_sock/index.html").read_text(encoding="utf-8")
    assert "<code>ds_backlog</code>" in symbol
    assert (site / "assets/kernel-explorer/explorer.js").read_bytes() == (REPO / "explorer/site/assets/explorer.js").read_bytes()
