"""asv benchmarks for nnbench, generated from the layer catalog (see
``bench_catalog.py``). ``asv.conf.json`` at the repository root points here."""
