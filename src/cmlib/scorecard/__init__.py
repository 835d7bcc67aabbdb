"""Scorecard development: admission rules, optimal binning and WoE, feature selection, a logistic scorecard
with points and reason codes, JSON/SQL exports, validation and stability, cutoff strategy, reject
inference and the fair-lending check."""

from cmlib.scorecard.binning import WoEBinner, bin_iv, optimal_partition
from cmlib.scorecard.model import LoadedScorecard, Scorecard, load_scorecard
from cmlib.scorecard.policy import AdmissionRules
from cmlib.scorecard.selection import SelectionResult, select_features, vif
from cmlib.scorecard.strategy import (
    CutoffResult,
    FairLendingResult,
    RejectInferenceResult,
    adverse_impact,
    cutoff_table,
    reject_inference,
    swap_sets,
)
from cmlib.scorecard.validation import (
    PSI_SHIFT,
    PSI_WATCH,
    AUCResult,
    CalibrationCheck,
    KSResult,
    PSIResult,
    ValidationResult,
    auc_ci,
    calibration,
    calibration_check,
    csi,
    gains_table,
    ks,
    psi,
    psi_flag,
    recalibration_shift,
    validate_scorecard,
)

__all__ = [
    "PSI_SHIFT",
    "PSI_WATCH",
    "AUCResult",
    "AdmissionRules",
    "CalibrationCheck",
    "KSResult",
    "PSIResult",
    "CutoffResult",
    "FairLendingResult",
    "LoadedScorecard",
    "RejectInferenceResult",
    "Scorecard",
    "SelectionResult",
    "ValidationResult",
    "WoEBinner",
    "adverse_impact",
    "auc_ci",
    "bin_iv",
    "calibration",
    "calibration_check",
    "csi",
    "cutoff_table",
    "gains_table",
    "ks",
    "load_scorecard",
    "optimal_partition",
    "psi",
    "psi_flag",
    "recalibration_shift",
    "reject_inference",
    "select_features",
    "swap_sets",
    "validate_scorecard",
    "vif",
]
