from nnbench.layers.pool import entry

ENTRY = entry("max")
