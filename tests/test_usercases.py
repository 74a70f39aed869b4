"""``nnbench.UserCase`` and ``--cases MODULE:ATTR``: loading, identity, build shapes."""

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

import nnbench
from nnbench import layers
from nnbench.results.case import Case
from nnbench.run import usercases as _usercases

FAULTY = Path(__file__).parent / "user_cases" / "faulty.py"


def _step():
    return jax.jit(lambda x: x * 2), (jnp.ones(2),)


def test_case_identity_fits_the_catalog_shape():
    assert nnbench.UserCase("m", _step).case("s:C") == Case("m", "user", "forward", "default", "float32", source="s:C")
    grouped = nnbench.UserCase("v1", _step, group="mlp", mode="train", size="big", dtype="bfloat16").case("s:C")
    assert grouped.id == "mlp/v1/train/big/bfloat16" and grouped.group == "mlp/train/big/bfloat16"
    # Catalog cases keep their original five keys; user cases round-trip with their source.
    assert "source" not in Case("mlp", "jax", "forward", "tiny").to_dict()
    assert Case.from_dict(grouped.to_dict()) == grouped
    assert grouped.command() == "nnbench run --cases s:C"


def test_load_by_dotted_module_and_by_file_path(monkeypatch):
    monkeypatch.syspath_prepend(str(FAULTY.parent.parent))
    monkeypatch.setenv("NNBENCH_TEST_CASES", "8")
    sys.modules.pop("user_cases.faulty", None)
    by_name = _usercases.cases("user_cases.faulty:MANY")
    by_path = _usercases.cases(f"{FAULTY}:MANY")
    assert (
        [c.id for c in by_name]
        == [c.id for c in by_path]
        == [f"g{i // 4:03d}/c{i:03d}/forward/default/float32" for i in range(8)]
    )
    assert {c.source for c in by_path} == {f"{FAULTY}:MANY"}


@pytest.mark.parametrize(
    "attr, message",
    [
        ("not_a_list", "not a list of nnbench.UserCase"),
        ("missing", "no attribute"),
        ("EMPTY", "is empty"),
        ("DUPES", "duplicate case"),
        ("BADNAME", "bad case label"),
    ],
)
def test_bad_lists_refused(tmp_path, attr, message):
    mod = tmp_path / "cases_mod.py"
    mod.write_text(
        "import nnbench\nb = lambda: None\nnot_a_list = lambda: 42\nEMPTY = []\n"
        "DUPES = [nnbench.UserCase('a', b), nnbench.UserCase('a', b)]\nBADNAME = [nnbench.UserCase('a/b', b)]\n"
    )
    with pytest.raises(_usercases.UserCasesError, match=message):
        _usercases.load(f"{mod}:{attr}")


def test_import_error_in_the_users_module_is_one_line(tmp_path):
    mod = tmp_path / "broken.py"
    mod.write_text("import nosuchpackage_xyz\n")
    with pytest.raises(
        _usercases.UserCasesError, match=r"cannot import .*ModuleNotFoundError: No module named 'nosuchpackage_xyz'"
    ):
        _usercases.load(f"{mod}:CASES")


@pytest.mark.parametrize("shape", ["pair", "triple", "built"])
def test_build_return_shapes(tmp_path, monkeypatch, shape):
    step, args = _step()
    carry = lambda a, o: (o,)
    returned = {"pair": (step, args), "triple": (step, args, carry), "built": layers.Built(step, args, carry)}[shape]
    uc = nnbench.UserCase("m", lambda: returned)
    monkeypatch.setattr(_usercases, "find", lambda case: uc)
    got_step, got_args, got_carry, _ = _usercases.built(uc.case("x:y"))
    assert got_step is step and got_args == args and got_carry is (None if shape == "pair" else carry)


def test_build_returning_nonsense_is_a_case_fault(monkeypatch):
    uc = nnbench.UserCase("m", lambda: 42)
    monkeypatch.setattr(_usercases, "find", lambda case: uc)
    with pytest.raises(TypeError, match="must return"):
        _usercases.built(uc.case("x:y"))
