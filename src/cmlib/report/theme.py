"""One look for every figure: seaborn theme, a colour-blind-safe palette, sizes that read in HTML."""

from __future__ import annotations

PALETTE = "colorblind"


def set_theme(context: str = "notebook") -> None:
    """Apply the cmlib theme to matplotlib and seaborn (idempotent; call once at the top of a notebook)."""
    # imported here: the runner and its executors import cmlib.report but draw nothing (seaborn costs ~3 s)
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(
        context=context,
        style="whitegrid",
        palette=PALETTE,
        rc={
            "figure.figsize": (8.0, 4.5),
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "axes.titleweight": "bold",
            "axes.titlelocation": "left",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
            # Reports are embedded PNGs: keep text as paths so no font files are needed offline.
            "svg.fonttype": "path",
        },
    )
    mpl.rcParams["figure.autolayout"] = True
    _compact_linear_axes()


def compact_formatter():
    """A tick formatter for linear axes: large values with a scale suffix (72.0bn, 3.4M, 250k) instead of
    matplotlib's offset or '1e10' multiplier, which a reader misses; small values as matplotlib prints them."""
    import numpy as np
    from matplotlib import ticker

    class CompactFormatter(ticker.ScalarFormatter):
        def _scale(self):
            lo, hi = self.axis.get_view_interval() if self.axis is not None else (0.0, 0.0)
            top = max(abs(lo), abs(hi))
            # (threshold, divisor, suffix): thousands only from 10,000 up (1,500 reads fine as it is)
            for threshold, size, suffix in ((1e9, 1e9, "bn"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
                if top >= threshold:
                    return size, suffix
            return None

        def __call__(self, x, pos=None):
            sc = self._scale()
            if sc is None:
                return super().__call__(x, pos)
            size, suffix = sc
            locs = [v / size for v in (self.axis.get_majorticklocs() if self.axis is not None else [])]
            step = min((abs(b - a) for a, b in zip(locs, locs[1:], strict=False) if b != a), default=1.0)
            digits = 0 if step >= 1 else min(3, int(-np.floor(np.log10(step))))
            return f"{x / size:,.{digits}f}{suffix}"

        def get_offset(self):
            return "" if self._scale() is not None else super().get_offset()

    return CompactFormatter(useOffset=False)


def _compact_linear_axes() -> None:
    """Every new linear axis gets :func:`compact_formatter` (once per process). Patched where matplotlib
    installs an axis' default formatter, so the library's own ``plot`` methods are covered too, and a date or
    categorical axis (which sets its own formatter afterwards) is not touched."""
    from matplotlib import scale

    if getattr(scale.LinearScale, "_cmlib_compact", False):
        return
    original = scale.LinearScale.set_default_locators_and_formatters

    def patched(self, axis):
        original(self, axis)
        axis.set_major_formatter(compact_formatter())

    scale.LinearScale.set_default_locators_and_formatters = patched
    scale.LinearScale._cmlib_compact = True


def colors(n: int) -> list:
    """The first ``n`` colours of the palette."""
    import seaborn as sns

    return sns.color_palette(PALETTE, n)
