"""scikit-learn's parameter protocol for cmlib estimators, without depending on scikit-learn's base class."""

from __future__ import annotations

import inspect

from cmlib.errors import ParameterError


class ParamsMixin:
    """``get_params``/``set_params`` from the names of ``__init__``'s arguments (stored unchanged)."""

    @classmethod
    def _param_names(cls) -> list[str]:
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict:
        return {k: getattr(self, k) for k in self._param_names()}

    def set_params(self, **params):
        names = self._param_names()
        for k, v in params.items():
            if k not in names:
                raise ParameterError(k, f"one of {sorted(names)}", v)
            setattr(self, k, v)
        return self
