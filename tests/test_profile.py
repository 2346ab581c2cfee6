"""The profile's tab database: rows, compression, sessions, and surviving a kill."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from broker.profile import Profile, StoredHistoryEntry, StoredTab, decode_tab, default_profile_dir
from renderer import protocol


def stored(n: int = 1, size: int = 2000) -> StoredTab:
    body = (f"<title>T{n}</title>" + "<p>lorem ipsum dolor</p>" * (size // 24)).encode()
    snapshot = protocol.Snapshot(
        url=f"http://example.test/{n}", title=f"T{n}", content_type="text/html", charset="utf-8",
        body=body, kind="html", width=80, scroll=3, focused_field=1, form_values={1: "typed"},
        form_checked={2: True},
    )
    return StoredTab(snapshot, history=[StoredHistoryEntry(snapshot.url, title=f"T{n}")], history_index=0)


def test_default_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_profile_dir() == str(tmp_path / "minibrowser")
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_profile_dir().endswith(os.path.join(".local", "share", "minibrowser"))


def test_nothing_touches_the_disk_until_a_write(tmp_path):
    profile = Profile(str(tmp_path / "p"))
    profile.close()
    assert not (tmp_path / "p").exists()


def test_round_trip_one_row_per_tab_compressed_in_wal(tmp_path):
    profile = Profile(str(tmp_path))
    size = profile.save(1, stored(1, 200_000))
    profile.save(1, stored(1, 200_000))  # replaces, one row per tab
    profile.save(2, stored(2))
    assert size < 200_000 / 5  # zlib
    assert profile.load(1) == stored(1, 200_000)
    assert [row.tab for row in profile.rows()] == [1, 2]
    connection = sqlite3.connect(profile.database)
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert connection.execute("SELECT COUNT(*) FROM tabs").fetchone()[0] == 2
    profile.delete(1)
    assert profile.load(1) is None
    profile.close()  # the session's rows go with it
    assert connection.execute("SELECT COUNT(*) FROM tabs").fetchone()[0] == 0


def test_rows_of_a_live_session_are_not_orphans(tmp_path):
    first = Profile(str(tmp_path))
    first.save(1, stored())
    second = Profile(str(tmp_path))
    assert second.orphaned() == []  # first's broker (this process) is alive
    first.close()
    second.close()


WRITER = textwrap.dedent("""
    import sys
    sys.path[:0] = {paths!r}
    from tests_profile_writer import run
    run({profile!r})
""")


def test_a_writer_killed_at_any_moment_leaves_whole_rows(tmp_path):
    """SIGKILL a process that keeps rewriting rows; every row left decodes."""
    helper = tmp_path / "tests_profile_writer.py"
    helper.write_text(textwrap.dedent("""
        import sys
        from broker.profile import Profile
        from test_profile import stored
        def run(path):
            profile = Profile(path)
            n = 0
            while True:
                n += 1
                profile.save(n % 7, stored(n, 50_000))
                if n == 20:
                    print("writing", flush=True)
    """))
    profile_dir = str(tmp_path / "profile")
    here = os.path.dirname(__file__)
    paths = [str(tmp_path), here, os.path.dirname(here)]
    for delay in (0.0, 0.03, 0.11):
        child = subprocess.Popen([sys.executable, "-c", WRITER.format(paths=paths, profile=profile_dir)],
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "writing"
        time.sleep(delay)  # where in the writing the kill lands: no condition to wait for, a place to vary
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        survivor = Profile(profile_dir)
        assert survivor.integrity_check() == "ok"
        orphans = survivor.orphaned()
        assert orphans, "the dead writer's rows are found"
        connection = sqlite3.connect(survivor.database)
        for (blob,) in connection.execute("SELECT snapshot FROM tabs"):
            tab = decode_tab(blob)
            assert tab.snapshot.form_values == {1: "typed"}
        connection.close()
        survivor.close()


def test_a_corrupt_row_is_an_error_not_a_crash(tmp_path):
    from broker.profile import ProfileError

    profile = Profile(str(tmp_path))
    profile.save(1, stored())
    connection = sqlite3.connect(profile.database)
    connection.execute("UPDATE tabs SET snapshot = ?", (b"garbage",))
    connection.commit()
    with pytest.raises(ProfileError):
        profile.load(1)
    profile.close()
