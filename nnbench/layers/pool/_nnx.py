"""Pooling in Flax NNX: ``nnx.max_pool`` / ``nnx.avg_pool`` in a module."""

from flax import nnx


class Pool(nnx.Module):
    def __init__(self, kind, window):
        self.kind, self.window = kind, window

    def __call__(self, x):
        pool = nnx.max_pool if self.kind == "max" else nnx.avg_pool
        return pool(x, (self.window, self.window), strides=(self.window, self.window), padding="VALID")


def model(config, dtype, rngs):
    del rngs
    return Pool(config["kind"], config["window"])


def to_canonical(pure):
    return {"params": {}}


def from_canonical(canonical):
    return {}
