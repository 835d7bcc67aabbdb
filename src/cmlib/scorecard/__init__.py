"""Scorecard development (work in progress — see the scorecard issue): optimal binning so far."""

from cmlib.scorecard.binning import bin_iv, optimal_partition

__all__ = ["bin_iv", "optimal_partition"]
