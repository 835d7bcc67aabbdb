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


def colors(n: int) -> list:
    """The first ``n`` colours of the palette."""
    import seaborn as sns

    return sns.color_palette(PALETTE, n)
