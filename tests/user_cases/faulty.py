"""User cases for the fault-injection tests: tiny healthy steps and one case
per fault kind. Imported by ``nnbench run --cases`` in the runner and again
in each worker process."""

import os
import signal
import time

import jax
import jax.numpy as jnp
import numpy as np

import nnbench


def healthy():
    w, x = jnp.ones((8, 8)), jnp.ones((2, 8))
    return jax.jit(lambda w, x: jnp.tanh(x @ w)), (w, x)


def raises():
    raise RuntimeError("injected fault <script>alert(1)</script>")


def segfault():
    os.kill(os.getpid(), signal.SIGSEGV)


def exhausts_memory():
    # 1 GiB: refused under the tests' --memory-limit, harmless without one.
    return np.ones(2**27)


def _allocate_in_callback(x):
    big = np.ones(2**27)  # 1 GiB inside the running step: refused under the tests' --memory-limit
    return np.asarray(x + big[:4].sum(), dtype=np.float32)


def exhausts_memory_in_step():
    step = jax.jit(lambda x: jax.pure_callback(_allocate_in_callback, jax.ShapeDtypeStruct((4,), jnp.float32), x))
    return step, (jnp.ones(4),)


def hangs():
    time.sleep(3600)


def non_finite():
    return jax.jit(lambda x: jnp.log(x - 1.0)), (jnp.zeros(4),)


def ok(name, group=None):
    return nnbench.UserCase(name, healthy, group=group, model_flops=2 * 2 * 8 * 8, items_per_step=2)


FAULTS = [
    # One worker: faults caught inside it fail only their own case.
    ok("ok1", group="caught"),
    nnbench.UserCase("exception", raises, group="caught"),
    nnbench.UserCase("oom", exhausts_memory, group="caught"),
    nnbench.UserCase("oom_step", exhausts_memory_in_step, group="caught"),
    nnbench.UserCase("nan", non_finite, group="caught"),
    # This worker dies: the group is retried one case per process.
    ok("ok2", group="dies"),
    nnbench.UserCase("segfault", segfault, group="dies"),
    nnbench.UserCase("hang", hangs),
]

# Cheap healthy cases, grouped so one worker builds several.
_N = int(os.environ.get("NNBENCH_TEST_CASES", "8"))
_PER_GROUP = int(os.environ.get("NNBENCH_TEST_GROUP", "4"))
MANY = [ok(f"c{i:03d}", group=f"g{i // _PER_GROUP:03d}") for i in range(_N)]


def not_a_list():
    return 42
