"""The published run-file schema (``nnbench/results/run.schema.json``): a fresh
run validates against it with plain ``jsonschema``, a metric turned into a
string does not, and every declared metric names a field of it."""

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from nnbench.cli import main
from nnbench.results import metrics
from nnbench.results import runfile as _results

SCHEMA_FILE = Path(_results.__file__).with_name("run.schema.json")


@pytest.fixture(scope="module")
def schema():
    return json.loads(SCHEMA_FILE.read_text())


@pytest.fixture(scope="module")
def fresh_run(tmp_path_factory):
    """One tiny case run for real (worker process, short budget)."""
    out = tmp_path_factory.mktemp("fresh") / "run.json"
    argv = ["run", "--layer", "dense", "--style", "jax", "--mode", "forward", "--size", "tiny"]
    assert main([*argv, "--budget", "0.05", "--target-ci", "0.5", "--min-samples", "5", "--out", str(out)]) == 0
    return json.loads(out.read_text())


def _node(schema, path):
    """The schema of the field at ``path`` inside a record, or None where the schema does not name it."""
    defs = schema["$defs"]

    def resolve(node):
        while "$ref" in node:
            node = defs[node["$ref"].removeprefix("#/$defs/")]
        return node

    node = resolve(defs["record"])
    for key in path:
        props = dict(node.get("properties", {}))
        for part in node.get("allOf", []):
            props.update(resolve(part).get("properties", {}))
        if key not in props:
            return None
        node = resolve(props[key])
    return node


def test_schema_id_is_versioned_with_the_run_files_schema_id(schema):
    version = _results.SCHEMA.rpartition("/")[2]
    assert schema["properties"]["schema"] == {"const": _results.SCHEMA}
    assert schema["$id"].endswith(f":run:{version}") and _results.SCHEMA in schema["title"]
    jsonschema.Draft202012Validator.check_schema(schema)


def test_fresh_run_validates(fresh_run, schema):
    jsonschema.validate(fresh_run, schema, cls=jsonschema.Draft202012Validator)
    (rec,) = fresh_run["records"]
    assert rec["status"] == "ok" and rec["time"]["median"] > 0


def test_every_field_a_fresh_record_writes_is_named(fresh_run, schema):
    """Every leaf of a fresh record (free-form maps aside) is named in the schema."""
    free = {"hlo_op_histogram", "policy", "events", "xla_loops", "parity", "per_process"}
    unnamed = []

    def walk(value, path):
        if isinstance(value, dict) and not (path and path[-1] in free):
            for k, v in value.items():
                walk(v, (*path, k))
        elif _node(schema, path) is None:
            unnamed.append(".".join(path))

    walk(fresh_run["records"][0], ())
    assert unnamed == []
    assert set(fresh_run) <= set(schema["properties"])
    assert set(fresh_run["env"]) <= set(schema["$defs"]["env"]["properties"])


def test_a_metric_made_a_string_fails(fresh_run, schema):
    validator = jsonschema.Draft202012Validator(schema)
    checked = 0
    for m in metrics.METRICS:
        if m.value(fresh_run["records"][0]) is None:
            continue
        bad = copy.deepcopy(fresh_run)
        parent = bad["records"][0]
        for key in m.path[:-1]:
            parent = parent[key]
        parent[m.path[-1]] = str(parent[m.path[-1]])
        assert list(validator.iter_errors(bad)), m.name
        checked += 1
    assert checked >= 20


@pytest.mark.parametrize("metric", metrics.METRICS, ids=lambda m: m.name)
def test_every_declared_metric_is_a_number_in_the_schema(schema, metric):
    node = _node(schema, metric.path)
    assert node is not None, f"{metric.name}: {'.'.join(metric.path)} is not in run.schema.json"
    types = node["type"] if isinstance(node["type"], list) else [node["type"]]
    assert {"number", "integer"} & set(types) and "string" not in types
