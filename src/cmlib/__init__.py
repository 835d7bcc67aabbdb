"""Credit Marketing Lab: the shared library behind the credit-marketing notebooks.

Every number in a report comes from a tested function here; notebooks only call, show and explain.
"""

from cmlib.errors import ArtefactError, CmlibError, DataError, ParameterError

__version__ = "0.1.0"
__all__ = ["ArtefactError", "CmlibError", "DataError", "ParameterError", "__version__"]
