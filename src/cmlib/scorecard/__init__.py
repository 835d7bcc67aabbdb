"""Scorecard development (work in progress — see the scorecard issue): optimal binning, WoE, a logistic
scorecard with points, reason codes and JSON/SQL exports."""

from cmlib.scorecard.binning import WoEBinner, bin_iv, optimal_partition
from cmlib.scorecard.model import LoadedScorecard, Scorecard, load

__all__ = ["LoadedScorecard", "Scorecard", "WoEBinner", "bin_iv", "load", "optimal_partition"]
