"""Regenerate the generated members of the bad-input corpus (``python
tests/bad_inputs/make.py``): each a mutation of the valid run file
``disjoint/a.json`` with one fault (README.md lists them). The hand-written
members (``empty.json``, ``truncated.json`` ...) are left alone; special
files (FIFO, device, socket, oversized) cannot live in git and are made by
``tests/test_bad_inputs.py`` at test time."""

import copy
import gzip
import json
from pathlib import Path

HERE = Path(__file__).parent
BASE = json.loads((HERE / "disjoint" / "a.json").read_text())
REQUEST = {
    "suite": None, "layer": ["mlp"], "style": ["jax"], "mode": ["forward"], "size": ["tiny"], "dtype": None,
    "cases": None,
    "timeout": 600.0, "budget": 0.05, "target_ci": 0.5, "min_samples": 5, "max_samples": None, "settle": 0.5,
    "memory_limit": None, "in_process": False, "profile": False, "compile_cache": None, "lower_for": None,
    "devices": None, "strategy": None, "scaling": None,
}  # fmt: skip


def mutated(change) -> str:
    data = copy.deepcopy(BASE)
    change(data)
    return json.dumps(data, indent=1)


def rec(data):
    return data["records"][0]


def text_edit(old: str, new: str) -> str:
    """The base file's text with the first ``old`` replaced (for what json.dumps cannot write)."""
    text = json.dumps(BASE, indent=1)
    assert old in text
    return text.replace(old, new, 1)


JSON_FILES = {
    # pathological JSON
    "deep_nesting.json": '{"schema": "nnbench.run/1", "env": {}, "records": ' + "[" * 5000 + "]" * 5000 + "}",
    "huge_integer.json": text_edit('"n": 84', '"n": ' + "9" * 5000),
    "nan_literal.json": text_edit('"median": 0.00016375650000099995', '"median": NaN'),
    "infinity_literal.json": text_edit('"ci_high": 0.0001848360000167304', '"ci_high": Infinity'),
    "float_overflow.json": text_edit('"median": 0.00016375650000099995', '"median": 1e999'),
    "duplicate_key.json": text_edit(
        '"median": 0.00016375650000099995', '"median": 0.00016375650000099995, "median": -1'
    ),
    "lone_surrogate.json": text_edit('"error": null', '"error": "\\ud800"'),
    "utf8_bom.json": "\ufeff" + json.dumps(BASE),
    # impossible values in a record
    "median_zero.json": mutated(lambda d: rec(d)["time"].update(median=0)),
    "median_negative.json": mutated(lambda d: rec(d)["time"].update(median=-1e9)),
    "median_huge.json": mutated(lambda d: rec(d)["time"].update(median=1e308)),
    "median_string.json": mutated(lambda d: rec(d)["time"].update(median="fast")),
    "median_null_ok.json": mutated(lambda d: rec(d)["time"].update(median=None)),
    "median_outside_ci.json": mutated(lambda d: rec(d)["time"].update(ci_low=0.5, ci_high=0.6)),
    "samples_not_a_list.json": mutated(lambda d: rec(d)["time"].update(samples_s={"0": 1e-4})),
    "samples_negative.json": mutated(lambda d: rec(d)["time"]["samples_s"].__setitem__(0, -1.0)),
    "samples_null.json": mutated(lambda d: rec(d)["dispatch"]["samples_s"].__setitem__(0, None)),
    "samples_nested.json": mutated(lambda d: rec(d)["time"].update(samples_s=[[1e-4], [2e-4]])),
    "samples_empty_ok.json": mutated(lambda d: rec(d)["time"].update(samples_s=[])),
    "round_ends_past_samples.json": mutated(lambda d: rec(d)["time"].update(round_ends=[2, 1, 10**6])),
    "count_negative.json": mutated(lambda d: rec(d)["time"].update(n=-3)),
    "duplicate_ids.json": mutated(lambda d: d["records"].append(copy.deepcopy(rec(d)))),
    "status_unknown.json": mutated(lambda d: rec(d).update(status="great")),
    "id_not_a_string.json": mutated(lambda d: rec(d).update(id=42)),
    "case_label_number.json": mutated(lambda d: rec(d)["case"].update(layer=3)),
    "env_count_string.json": mutated(lambda d: d["env"].update(device_count="one")),
    # a request --resume must refuse before it writes anything
    "request_bad_budget.json": mutated(lambda d: d.update(request={**REQUEST, "budget": -1})),
    "request_wrong_type.json": mutated(lambda d: d.update(request={**REQUEST, "layer": "mlp"})),
    "request_unknown_layer.json": mutated(lambda d: d.update(request={**REQUEST, "layer": ["nosuch"]})),
    # profile summaries (profile-diff)
    "summary_ops_not_a_list.json": json.dumps({"ops": 3}),
    "summary_op_without_category.json": json.dumps({"ops": [{"op": "dot.1", "module": "m", "self_s_per_step": 1e-3}]}),
    "summary_negative_time.json": json.dumps(
        {"ops": [{"op": "dot.1", "module": "m", "category": "matmul/conv", "self_s_per_step": -1.0}]}
    ),
}


def main() -> None:
    for name, text in JSON_FILES.items():
        (HERE / name).write_text(text, encoding="utf-8")
    # Valid partners: a run file with a request (the base of the request_*
    # members) and a profile summary (the other side of profile-diff probes).
    (HERE / "resumable.json").write_text(mutated(lambda d: d.update(request=REQUEST)))
    op = {
        "op": "dot.1",
        "module": "jit_step",
        "category": "matmul/conv",
        "shape": "f32[8,8]",
        "occurrences": 5,
        "self_s_per_step": 1e-5,
    }
    (HERE / "valid_summary.json").write_text(json.dumps({"steps": 5, "ops": [op]}, indent=1))
    (HERE / "damaged.json.gz").write_bytes(gzip.compress(json.dumps(BASE).encode(), mtime=0)[:200])
    # 16 MiB of JSON whitespace in 16 KiB: over the 4 MiB cap the probes run under.
    (HERE / "gzip_bomb.json.gz").write_bytes(
        gzip.compress(b'{"schema": "nnbench.run/1"' + b" " * (16 << 20) + b"}", mtime=0)
    )


if __name__ == "__main__":
    main()
