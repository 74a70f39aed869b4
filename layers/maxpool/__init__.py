from layers.pool import entry

ENTRY = entry("max")
