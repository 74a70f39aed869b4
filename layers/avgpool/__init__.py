from layers.pool import entry

ENTRY = entry("avg")
