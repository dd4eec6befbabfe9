"""The Gemini models a user may pick (GEMINI_MODELS, else GEMINI_MODEL) and their budget weights.

deploy.sh's check_models applies the same rule with the same words (tests/deploy/test_models.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from .settings import ASCII_SPACE, DEFAULT_MODEL, ConfigError

__all__ = ["MAX_MODELS", "MAX_WEIGHT", "Model", "parse_models"]

# GEMINI_MODELS: "id:weight,id:weight,..."; the first is the default. Ids are written like
# Gemini's own (gemini-2.5-flash); weights are plain decimals, 0 < weight <= 1000.
_MODEL_ID = re.compile(r"[a-z0-9][a-z0-9.-]{0,99}")
_WEIGHT = re.compile(r"([0-9]{1,4})(?:\.([0-9]{1,6}))?")
MAX_WEIGHT = 1000
MAX_MODELS = 20
_MODELS_EXAMPLE = "like gemini-2.5-flash:1,gemini-2.5-flash-lite:0.3,gemini-2.5-pro:8"


@dataclass(frozen=True)
class Model:
    """A Gemini model the client may pick, and what one of its tokens costs against the budgets
    (in tokens of the default model's price; exact, so rounding happens once, upwards)."""

    id: str
    weight: Fraction

    @property
    def public_weight(self) -> int | float:
        """The weight as a JSON number: 1, 0.3, 8."""
        return int(self.weight) if self.weight.denominator == 1 else float(self.weight)


def parse_models(single: str | None, listed: str | None) -> tuple[Model, ...]:
    """GEMINI_MODELS (`listed`; the first entry is the default), else GEMINI_MODEL (`single`) as
    a one-model list of weight 1 (None: unset or blank). Both set: GEMINI_MODEL must be
    GEMINI_MODELS' first entry (an older deployment's GEMINI_MODEL never silently stops being the
    default). Errors never quote the values."""
    if single is not None:
        single = single.strip(ASCII_SPACE)
        if not _MODEL_ID.fullmatch(single):
            raise ConfigError("GEMINI_MODEL: must be a Gemini model id: lowercase letters, digits, "
                              "'.' and '-' (at most 100, starting with a letter or digit), like "
                              "gemini-2.5-flash")
    if listed is None:
        return (Model(single or DEFAULT_MODEL, Fraction(1)),)
    models: list[Model] = []
    for number, entry in enumerate(listed.strip(ASCII_SPACE).split(","), start=1):
        where = f"GEMINI_MODELS: entry {number}"
        model_id, colon, weight = (part.strip(ASCII_SPACE) for part in entry.partition(":"))
        if not entry.strip(ASCII_SPACE):
            raise ConfigError(f"{where} is empty; list id:weight pairs separated by commas, "
                              f"{_MODELS_EXAMPLE}")
        if not colon:
            raise ConfigError(f"{where}: must be id:weight, {_MODELS_EXAMPLE}")
        if not _MODEL_ID.fullmatch(model_id):
            raise ConfigError(f"{where}: the model id must be lowercase letters, digits, '.' and "
                              "'-' (at most 100, starting with a letter or digit), like "
                              "gemini-2.5-flash")
        match = _WEIGHT.fullmatch(weight)
        value = Fraction(weight) if match else Fraction(0)
        if not 0 < value <= MAX_WEIGHT:
            raise ConfigError(f"{where}: the weight must be a decimal number above 0 and at most "
                              f"{MAX_WEIGHT}, with at most 6 decimals, like 1, 0.3 or 8")
        if any(model.id == model_id for model in models):
            raise ConfigError(f"{where}: the model is listed twice")
        models.append(Model(model_id, value))
    if len(models) > MAX_MODELS:
        raise ConfigError(f"GEMINI_MODELS: at most {MAX_MODELS} models")
    if single is not None and single != models[0].id:
        raise ConfigError("GEMINI_MODEL: must be the first (default) model of GEMINI_MODELS when "
                          "both are set; unset GEMINI_MODEL or list that model first")
    return tuple(models)
