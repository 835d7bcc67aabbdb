"""``python -m benchmarks``: every benchmark in one run; results in benchmarks/results/*.json."""

from benchmarks import data, experiments

data.main([])
experiments.main([])
