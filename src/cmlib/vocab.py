"""The bank's vocabulary: the categories every table, schema, simulator and analysis share.

One list per concept, so a schema's allowed values, the simulator's draws and a notebook's segment names
cannot drift apart. The names of estimator parameters and result columns the whole library uses are
listed in ``docs/ARCHITECTURE.md`` (random_state, alpha, ci_low/ci_high, by, target, treatment, prob_bad).
"""

from __future__ import annotations

CHANNELS = ["branch", "telemarketing", "direct_mail", "email", "sms", "paid_social", "search", "partners"]
#: the contact permission a channel needs (None: the customer comes to us)
CHANNEL_PERMISSION = {
    "branch": None,
    "telemarketing": "perm_phone",
    "direct_mail": "perm_mail",
    "email": "perm_email",
    "sms": "perm_sms",
    "paid_social": "perm_email",
    "search": None,
    "partners": None,
}
REGIONS = ["capital", "north", "south", "east", "west", "central", "coast", "rural"]
SEGMENTS = ["student", "young_professional", "mass", "affluent", "senior"]
EMPLOYMENT = ["salaried", "self_employed", "retired", "student", "unemployed"]
HOUSING = ["own", "mortgage", "rent", "other"]
ARMS = ["control", "lower_apr", "cashback", "no_fee_high_limit"]
#: monthly account states of the performance panel, from current to the absorbing ones
STATES = ["current", "dpd30", "dpd60", "dpd90", "charged_off", "closed", "prepaid"]
#: reasons a complaint is filed under (misleading rate or fees, unwanted contact, card problem, collections, other)
COMPLAINT_REASONS = ["misleading_rate_or_fees", "unwanted_contact", "card_problem", "collections", "other"]
#: bureau-score special codes: no credit file, thin file
NO_FILE, THIN_FILE = 9999, 9998


def special_label(code) -> str:
    """The bin label of a special value (``special:9999``): one spelling for binning, scoring and SQL."""
    return f"special:{code:g}" if isinstance(code, int | float) else f"special:{code}"
