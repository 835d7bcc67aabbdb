"""``python -m benchmarks``: every benchmark in one run; results in benchmarks/results/*.json."""

from benchmarks import data, experiments, monitoring, optimize, scorecard, survival

data.main([])
experiments.main([])
survival.main([])
scorecard.main([])
optimize.main([])
monitoring.main([])
