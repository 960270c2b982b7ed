"""Secret files: created once, complete whenever they exist, shared by racing processes."""

from __future__ import annotations

import multiprocessing as mp
import stat
from multiprocessing.synchronize import Barrier
from pathlib import Path

from busanchain.keys.secretfile import ensure_secret_file

RACERS = 6
ROUNDS = 30  # the earlier create-then-write version failed about 1 round in 5 of these


def _race(path: Path, barrier: Barrier, answers: mp.Queue) -> None:  # type: ignore[type-arg]
    barrier.wait()
    ensure_secret_file(path)
    answers.put(path.read_text(encoding="ascii"))


def test_processes_starting_together_all_read_the_one_complete_secret(tmp_path: Path) -> None:
    ctx = mp.get_context("fork")
    for round_ in range(ROUNDS):
        path = tmp_path / str(round_) / "secrets" / "session.key"
        barrier, answers = ctx.Barrier(RACERS), ctx.Queue()
        racers = [ctx.Process(target=_race, args=(path, barrier, answers)) for _ in range(RACERS)]
        for racer in racers:
            racer.start()
        seen = {answers.get(timeout=30) for _ in racers}
        for racer in racers:
            racer.join(timeout=30)
        assert len(seen) == 1, f"round {round_}: {len(seen)} different secrets were read"
        assert len(bytes.fromhex(seen.pop().strip())) == 32
        assert [p.name for p in path.parent.iterdir()] == ["session.key"]  # no temp files


def test_an_existing_secret_is_kept_and_a_new_one_is_private(tmp_path: Path) -> None:
    path = ensure_secret_file(tmp_path / "secrets" / "kek.hex", 32)
    first = path.read_text(encoding="ascii")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_secret_file(path, 32).read_text(encoding="ascii") == first
