"""``nnbench run --shard K/N`` and ``nnbench merge``: every case of a
selection in exactly one shard, whole worker groups, and the shards' run
files joined back into one run file of the whole selection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nnbench.cli import main
from nnbench.results import runfile as _results
from nnbench.run.cases import group_key, group_seconds, select, shard

ROOT = Path(__file__).resolve().parents[1]


def _ids(capsys, argv):
    assert main(argv) == 0
    return capsys.readouterr().out.split()


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_shards_partition_the_ci_suite_by_worker_group(capsys, n):
    whole = _ids(capsys, ["list", "--suite", "ci"])
    parts = [_ids(capsys, ["list", "--suite", "ci", "--shard", f"{k}/{n}"]) for k in range(1, n + 1)]
    assert sorted(i for p in parts for i in p) == sorted(whole)  # every case once
    cases = {c.id: c for c in select("ci")}
    owner = {}
    for k, part in enumerate(parts):
        assert part == [i for i in whole if i in set(part)]  # selection order kept
        for i in part:
            assert owner.setdefault(group_key(cases[i]), k) == k  # a group is never split
    # Balanced on each group's expected seconds: no shard more than one group's worth above another.
    members = {g: [c for c in cases.values() if group_key(c) == g] for g in owner}
    loads = [sum(group_seconds(members[g]) for g in {group_key(cases[i]) for i in p}) for p in parts]
    assert max(loads) - min(loads) <= max(group_seconds(m) for m in members.values())


def test_shards_balance_measured_time_better_than_case_counts():
    """Against walls measured apart from the weights (the published run is
    the weights' source; this is a later run of the ci suite on the same
    VM, ×1.5 slower then): the larger of two shards had 795 s of its
    1284 s in groups when shards were balanced on case counts; on the
    weights, under 700 s."""
    walls = json.loads((ROOT / "tests" / "data" / "ci-group-walls-2026-12-03.json").read_text())
    cases = select("ci")
    loads = [sum(walls[g] for g in {c.group for c in shard(cases, k, 2)}) for k in (1, 2)]
    assert sum(loads) == pytest.approx(sum(walls.values())) and max(loads) < 700


def test_a_group_the_weights_never_saw_counts_its_cases():
    from nnbench.results.case import Case

    user = [Case("x", s, "train", "tiny", "float32", source="bench.py:CASES") for s in ("a", "b", "c")]
    new_size = [Case("mlp", "jax", "train", "huge", "float32")]
    assert group_seconds(user) == 3 * group_seconds(new_size) > 0
    assert group_seconds([Case("mlp", "jax", "train", "tiny", "float32")]) != group_seconds(new_size)


@pytest.mark.parametrize("text", ["0/3", "4/3", "a/b", "3", "1/0", ""])
def test_bad_shard_is_refused(capsys, text):
    assert main(["list", "--suite", "smoke", "--shard", text]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnbench: error: ") and err.count("\n") == 1


SELECTION = ["--layer", "dense,layernorm", "--style", "jax,linen", "--mode", "forward", "--size", "tiny"]
FAST = ["--budget", "0.05", "--min-samples", "5", "--settle", "0", "--in-process"]


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    d = tmp_path_factory.mktemp("shards")
    paths = []
    for k in (1, 2):
        path = d / f"part{k}.json"
        assert main(["run", *SELECTION, *FAST, "--shard", f"{k}/2", "--out", str(path)]) == 0
        paths.append(path)
    return d, paths


def test_merge_joins_the_shards_into_the_whole_selection(shards, capsys):
    d, (p1, p2) = shards
    capsys.readouterr()
    whole = _ids(capsys, ["list", *SELECTION])
    out = d / "merged.json"
    assert main(["merge", str(p1), str(p2), "--out", str(out)]) == 0
    merged = _results.read_run(out)  # a valid run file
    assert sorted(r["id"] for r in merged["records"]) == sorted(whole)
    parts = [json.loads(p.read_text()) for p in (p1, p2)]
    assert [m["env"] for m in merged["merged"]] == [p["env"] for p in parts]
    assert [m["cases"] for m in merged["merged"]] == [len(p["records"]) for p in parts] and sum(
        m["cases"] for m in merged["merged"]
    ) == len(whole)
    assert [m["request"]["shard"] for m in merged["merged"]] == ["1/2", "2/2"] and merged["request"]["shard"] is None
    assert merged["started"] == min(p["started"] for p in parts)
    assert merged["finished"] == max(p["finished"] for p in parts)
    assert main(["report", str(out), "--format", "json"]) == 0
    capsys.readouterr()


def test_merge_refuses_overlap_and_other_machines_writing_nothing(shards, capsys, tmp_path):
    d, (p1, p2) = shards
    out = tmp_path / "m.json"
    assert main(["merge", str(p1), str(p1), "--out", str(out)]) == 2
    assert "overlap" in capsys.readouterr().err and not out.exists()
    other = json.loads(p2.read_text())
    other["env"]["device_kind"] = "NVIDIA H100 80GB HBM3"
    (tmp_path / "gpu.json").write_text(json.dumps(other))
    assert main(["merge", str(p1), str(tmp_path / "gpu.json"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "device_kind" in err and err.count("\n") == 1 and not out.exists()
    assert main(["merge", str(p1), "--out", str(out)]) == 2
    capsys.readouterr()
    out.write_text("keep")
    assert main(["merge", str(p1), str(p2), "--out", str(out)]) == 2
    assert out.read_text() == "keep"
