"""One glossary for every report: each term defined once, in a reader's words; a report ends with the terms
it uses (:func:`glossary`)."""

from __future__ import annotations

from IPython.display import Markdown

from cmlib.report.format import escape

#: term → definition, for a head of marketing or of credit risk (no formulas unless they are the point)
TERMS: dict[str, str] = {
    "pp": "percentage points: the difference of two rates (3.4 % to 4.5 % is +1.1 pp, a relative lift of 32 %).",
    "relative lift": "the offer's rate divided by control's, minus one.",
    "APR": "annual percentage rate: the yearly price of credit, fees included where the regulation says so.",
    "DPD": "days past due; 30+ DPD means a payment at least 30 days late, 90+ DPD is the bank's default definition.",
    "bad rate": "the share of accounts that reach 90+ DPD within 12 months of booking (the scorecard's definition).",
    "account value": "the expected discounted profit of one booked account over the value model's horizon "
    "(36 months by default): margin and fees, less credit losses and servicing, given how long it stays open.",
    "YoY": "year-on-year growth: this month's level against the same month a year earlier.",
    "CAGR": "compound annual growth rate over the whole series.",
    "STL": "seasonal-trend decomposition: splits a monthly series into trend, a yearly pattern and noise.",
    "SARIMAX": "a seasonal time-series model used for the forecast (chosen by backtest against simpler ones).",
    "MAPE": "mean absolute percentage error of a forecast in the backtest (lower is better).",
    "backtest": "forecasting months already known, from data before them, to measure a forecast's error.",
    "structural break": "a date after which the series' level or trend changed for good.",
    "attractiveness score": "a weighted sum of a segment's standardised size, growth, response, approval, "
    "margin and (negatively) bad rate; the weights are a parameter of the market report.",
    "SRM": "sample-ratio mismatch: arms whose sizes differ from the planned split by more than chance, a sign "
    "that assignment or logging is broken.",
    "MDE": "minimum detectable effect: the smallest lift the test finds with the stated power.",
    "guardrail": "a metric that must not get worse by more than a margin (here early delinquency), whatever "
    "the primary metric does.",
    "Holm": "an adjustment of p-values for testing several offers at once, so the chance of any false win "
    "stays at the stated level.",
    "CUPED": "a variance reduction that adjusts each customer's outcome by what it was before the test; "
    "same answer, tighter interval.",
    "value per contact": "the account value of the bookings an offer brings, per customer contacted.",
    "chance to beat control": "the Bayesian posterior probability that an offer's rate is above control's.",
    "sequential test": "a read-out that may stop early at planned looks while keeping the false-win rate.",
    "WoE": "weight of evidence: the log of the good:bad odds of a bin against the whole sample's.",
    "IV": "information value: how well a characteristic separates goods from bads (above 0.1 useful).",
    "PDO": "points to double the odds: every PDO points the good:bad odds double.",
    "AUC": "area under the ROC curve: the chance a random good scores above a random bad (0.5 is guessing).",
    "Gini": "2 × AUC − 1.",
    "KS": "Kolmogorov–Smirnov: the largest gap between the score distributions of goods and bads.",
    "PSI": "population stability index: how far the applicants' score distribution moved (below 0.10 stable).",
    "CSI": "characteristic stability index: the PSI of one characteristic's bins.",
    "calibration": "whether predicted bad rates match observed ones; observed ÷ predicted of 1 is right.",
    "odds shift": "a recalibration that multiplies every applicant's bad odds by one factor: it fixes the "
    "level of the predictions without changing their order.",
    "swap-in / swap-out": "applicants the new cutoff approves and today's policy declines, and the reverse.",
    "reject inference": "estimating how declined applicants would have performed, to correct a model "
    "trained only on accounts the old policy booked.",
    "adverse-impact ratio": "the approval rate of a protected group divided by the most-approved group's; "
    "below 0.8 fails the four-fifths rule.",
    "Kaplan–Meier": "the share of accounts still open (or not yet defaulted) after each month on book.",
    "hazard ratio": "how much a characteristic multiplies the monthly chance of the event (1.2 = 20 % more).",
    "Cox model": "a regression of the time to an event on characteristics, reported as hazard ratios.",
    "concordance": "the chance the model ranks which of two accounts has the event first correctly "
    "(0.5 is guessing).",
    "competing risks": "closure and default end an account in different ways; each is estimated with the "
    "other one removing accounts from risk.",
    "CIF": "cumulative incidence: the share of accounts that have had the event by a month on book.",
    "RMST": "restricted mean survival time: the expected months open within a horizon.",
    "log-rank test": "whether the survival curves of segments differ by more than chance.",
    "vintage": "the accounts booked in one month, followed as they age.",
    "roll rate": "the share of accounts moving from one arrears bucket to another from one month to the next.",
    "response curve": "bookings as a function of a channel's weekly spend, with diminishing returns.",
    "uplift": "the change in a customer's chance to book caused by contacting them (not the chance itself).",
    "Qini": "a curve of extra bookings against customers targeted, best first by predicted uplift.",
    "AUUC": "area under the uplift curve: how well a model ranks customers by uplift.",
    "NPV": "net present value: discounted value less cost.",
    "ROI": "return on spend: profit divided by what the campaign cost.",
    "cost per booking": "a channel's spend divided by the accounts it booked.",
    "EWMA chart": "a control chart of a smoothed weekly rate; an alarm when it leaves its limits.",
    "NPS": "net promoter score: promoters minus detractors among survey answers, in points from −100 to 100.",
    "KPI tree": "bookings broken into contacts × response × application × approval × booking rates.",
}


def glossary(*terms: str) -> Markdown:
    """The report's closing glossary: a heading and one line per term, in the order given. An unknown term
    is a ``KeyError`` naming it (every term is defined once, in :data:`TERMS`)."""
    missing = [t for t in terms if t not in TERMS]
    if missing:
        raise KeyError(f"not in cmlib.report.glossary.TERMS: {missing}")
    lines = ["## Glossary", ""] + [f"- **{escape(t)}**: {escape(TERMS[t])}" for t in terms]
    return Markdown("\n".join(lines))
