"""Replay on several processes and on a Dask cluster: inputs (globs, gzip, pipes, stdin), shards, merging."""

from __future__ import annotations

import gzip
import json
import os
import random
import threading
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from gtm_emulator.harness.parallel import RateMeter, replay
from gtm_emulator.harness.replay import ReplayFileError, ReplaySource, compare, replay_container
from gtm_emulator.harness.replay import replay as replay_items
from gtm_emulator.harness.replay_inputs import expand, plan, shard_lines
from tests.harness.test_replay import Q, container_data, write_ndjson

EVENTS = ("page_view", "add_to_cart", "purchase", "refund", "view_item")


def traffic_rows(count: int, seed: int = 3) -> list[Any]:
    rng = random.Random(seed)
    rows: list[Any] = []
    for n in range(count):
        if n % 97 == 5:
            rows.append("not json")
        elif n % 41 == 0:
            rows.append("")
        elif n % 7 == 0:
            body = "\n".join(f"en={rng.choice(EVENTS)}&_p={n}" for _ in range(rng.randint(2, 4)))
            rows.append({"method": "POST", "url": Q, "body": body, "time": 1_700_000_000 + n})
        else:
            rows.append({"method": "GET", "url": f"{Q}&en={rng.choice(EVENTS)}&cu=EUR&epn.value={n}",
                         "time": 1_700_000_000 + n})
    return rows


@pytest.fixture
def big(tmp_path: Path) -> Path:
    return write_ndjson(tmp_path / "big.ndjson", traffic_rows(600))


@pytest.fixture
def other_container(tmp_path: Path) -> Path:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(container_data("^(purchase|add_to_cart)$")), encoding="utf-8")
    return path


def test_line_ranges_cover_every_line_once_with_its_number(tmp_path: Path) -> None:
    rng = random.Random(5)
    lines = [b"x" * rng.randint(0, 300) + b"\n" for _ in range(500)] + [b"last line without newline"]
    path = tmp_path / "f.ndjson"
    path.write_bytes(b"".join(lines))
    for size in (1, 64, 1000, 10**6):
        shards = list(plan([str(path)], shard_bytes=size).shards)
        seen = []
        for shard in shards:
            got = list(shard_lines(shard))
            assert shard.lines == len(got)
            seen.extend((shard.first_line + i, line) for i, line in enumerate(got))
        assert seen == list(enumerate(lines, 1)), size
        assert plan([str(path)], shard_bytes=size).total_lines == len(lines)


def test_several_workers_give_the_one_worker_result_byte_for_byte(big: Path, other_container: Path) -> None:
    one = replay([big], workers=1, shard_bytes=2048)
    two = replay([big], workers=2, shard_bytes=2048)
    serial = replay_items(ReplaySource(big), replay_container())
    assert json.dumps(two.to_dict()) == json.dumps(one.to_dict()) == json.dumps(serial.to_dict())
    assert [str(b) for b in two.bad_lines] == [str(b) for b in serial.bad_lines]
    assert one.requests > 500 and len(one.bad_lines) == 7

    comp_one = replay([big], against=other_container, workers=1, shard_bytes=2048)
    comp_two = replay([big], against=other_container, workers=2, shard_bytes=2048)
    comp_serial = compare(ReplaySource(big), replay_container(), replay_container(other_container),
                          label_a="the bundled default container", label_b=str(other_container))
    assert comp_two.format() == comp_one.format()
    assert json.dumps(comp_two.to_dict()) == json.dumps(comp_one.to_dict()) == json.dumps(comp_serial.to_dict())
    assert comp_one.changed and comp_one.tags["TikTok"].examples_more


def test_inputs_gzip_globs_and_several_files(tmp_path: Path, big: Path) -> None:
    rows = traffic_rows(600)
    write_ndjson(tmp_path / "part1.ndjson", rows[:300])
    with gzip.open(tmp_path / "part2.ndjson.gz", "wt", encoding="utf-8") as fh:
        fh.write("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows[300:]))
    names = expand([str(tmp_path / "part*")])
    assert names == [str(tmp_path / "part1.ndjson"), str(tmp_path / "part2.ndjson.gz")]
    split = replay([str(tmp_path / "part*")], workers=2, shard_bytes=4096, chunk_lines=50)
    whole = replay([big], workers=1)
    assert split.to_dict() == whole.to_dict()
    assert str(split.bad_lines[-1]).startswith(f"{tmp_path / 'part2.ndjson.gz'}:")
    with pytest.raises(ReplayFileError, match=r"nothing.*: no file matches"):
        expand([str(tmp_path / "nothing*.ndjson")])
    with pytest.raises(ReplayFileError, match="is a directory"):
        expand([str(tmp_path)])


def test_a_pipe_is_read_once_and_never_counted_ahead(tmp_path: Path, big: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    data = big.read_bytes()

    def writer() -> None:
        with open(fifo, "wb") as fh:
            fh.write(gzip.compress(data))

    thread = threading.Thread(target=writer)
    thread.start()
    through_pipe = replay([str(fifo)], workers=2, chunk_lines=100)
    thread.join(timeout=30)
    expected = replay([big], workers=1)
    assert through_pipe.to_dict() == expected.to_dict()
    assert [b.source.split(":")[-1] for b in through_pipe.bad_lines] == \
        [b.source.split(":")[-1] for b in expected.bad_lines]


def test_cli_reads_standard_input_and_gzip(cli: click.Group, big: Path) -> None:
    expected = CliRunner().invoke(cli, ["replay", str(big), "--json", "--workers", "1"])
    assert expected.exit_code == 0, expected.output
    piped = CliRunner().invoke(cli, ["replay", "-", "--json"], input=gzip.compress(big.read_bytes()))
    assert piped.exit_code == 0, piped.output
    assert piped.stdout == expected.stdout
    assert "skipped <stdin>:6: invalid JSON" in piped.stderr


def test_cli_exits_2_when_no_request_was_read(cli: click.Group, tmp_path: Path) -> None:
    empty = CliRunner().invoke(cli, ["replay", "-"], input=b"")
    assert empty.exit_code == 2
    assert "-: the input holds no request to replay" in empty.stderr
    junk = write_ndjson(tmp_path / "junk.ndjson", ["nope", "still nope"])
    bad = CliRunner().invoke(cli, ["replay", str(junk)])
    assert bad.exit_code == 2 and "no line could be replayed (2 bad lines)" in bad.stderr


def test_progress_line_has_rate_and_eta() -> None:
    ticks = iter([100.0, 110.0])
    meter = RateMeter(clock=lambda: next(ticks))
    assert meter.line(5_000, 20_000) == "replaying 5,000/20,000 lines (25%)  500/s  ETA 0:00:30  0:10 elapsed"


def test_cli_progress_reports_every_shard(cli: click.Group, big: Path) -> None:
    result = CliRunner().invoke(cli, ["replay", str(big), "--progress", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "replaying on 1 worker" in result.stderr
    assert "replaying 600/600 lines (100%)" in result.stderr


def test_dask_cluster_gives_the_local_summary_byte_for_byte(big: Path, other_container: Path) -> None:
    import distributed  # in the test extra (dask[distributed])
    local = replay([big], against=other_container, workers=1, shard_bytes=2048)
    with distributed.LocalCluster(n_workers=3, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", scheduler_port=0, dashboard_address="127.0.0.1:0",
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        on_dask = replay([big], against=other_container, client=client, shard_bytes=2048)
        summary = replay([big], client=client, shard_bytes=2048)
        workers_used = set(client.run(os.getpid).values())
    assert json.dumps(on_dask.to_dict()) == json.dumps(local.to_dict())
    assert on_dask.format() == local.format()
    assert json.dumps(summary.to_dict()) == json.dumps(replay([big], workers=1).to_dict())
    assert len(workers_used) == 3
