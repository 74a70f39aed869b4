from __future__ import annotations

import jax

ACTIVATIONS = {"relu": jax.nn.relu, "gelu": jax.nn.gelu, "tanh": jax.numpy.tanh}


def layer_names(config) -> list[str]:
    return [f"dense_{i}" for i in range(len(config["widths"]) - 1)]


def n_scanned(config) -> int:
    """Layers stacked into the scanned block (all but the last), 0 if unscanned."""
    return len(config["widths"]) - 2 if config.get("scan") else 0
