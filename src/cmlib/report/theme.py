"""One look for every figure: seaborn theme, a colour-blind-safe palette, sizes that read in HTML."""

from __future__ import annotations

import matplotlib as mpl
import seaborn as sns

PALETTE = "colorblind"


def set_theme(context: str = "notebook") -> None:
    """Apply the cmlib theme to matplotlib and seaborn (idempotent; call once at the top of a notebook)."""
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


def colors(n: int) -> list:
    """The first ``n`` colours of the palette."""
    return sns.color_palette(PALETTE, n)
