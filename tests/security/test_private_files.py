"""worker.private_files: the data dir 0700, files 0600, older open files tightened."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from worker.private_files import make_private_dir, tighten_tree


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_make_private_dir_creates_and_tightens(tmp_path: Path) -> None:
    fresh = tmp_path / "a" / "b"
    make_private_dir(fresh)
    assert _mode(fresh) == 0o700
    old = tmp_path / "old"
    old.mkdir(mode=0o755)
    old.chmod(0o755)
    make_private_dir(old)
    assert _mode(old) == 0o700


def test_tighten_tree_fixes_files_left_by_older_versions(tmp_path: Path) -> None:
    (tmp_path / "redis").mkdir()
    (tmp_path / "redis").chmod(0o755)
    aof = tmp_path / "redis" / "appendonly.aof"
    aof.write_text("*1\r\n")
    aof.chmod(0o644)
    private = tmp_path / "radflag.sqlite3"
    private.write_text("")
    private.chmod(0o600)
    link = tmp_path / "link"
    link.symlink_to("/etc/hostname")
    assert tighten_tree(tmp_path) == 2
    assert _mode(aof) == 0o600 and _mode(tmp_path / "redis") == 0o700
    assert _mode(private) == 0o600
    assert _mode(Path("/etc/hostname")) & 0o044  # a symlink's target is not ours to change


def test_children_inherit_the_private_umask(tmp_path: Path) -> None:
    code = (
        "import subprocess, sys; from worker.private_files import set_private_umask; "
        "set_private_umask(); "
        f"subprocess.run(['touch', {str(tmp_path / 'child-made')!r}], check=True)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
    assert _mode(tmp_path / "child-made") == 0o600
