"""Pooling in Flax Linen: ``nn.max_pool`` / ``nn.avg_pool`` in a module."""

import flax.linen as nn

from nnbench.layers import kit as _kit


class Pool(nn.Module):
    kind: str
    window: int

    @nn.compact
    def __call__(self, x, train: bool = False):
        pool = nn.max_pool if self.kind == "max" else nn.avg_pool
        return pool(x, (self.window, self.window), strides=(self.window, self.window), padding="VALID")


def model(config, dtype):
    module = Pool(config["kind"], config["window"])
    return _kit.linen(module, lambda v: {"params": dict(v.get("params", {}))}, lambda c: {"params": {}})
