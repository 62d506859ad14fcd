"""The scenario schema: what a YAML scenario may say, checked with pydantic.

Conventions: rates, probabilities, shares and the discount rate are fractions (0.19, never 19);
money is in pounds at the scenario's ``price_year``; durations are in days unless the name says
otherwise; rates are per year at liberty. Unknown keys are refused.

Every key has a description (its meaning and unit), which ``iomsim schema`` and
docs/scenarios.md (``python -m iomsim.scenario.reference``) show. The schema is kept as one file
although the descriptions take it past 900 lines: the models nest into one ``Scenario`` whose
checks read across them (``Scenario._consistent`` uses cohort, offending, justice and selection
together), and one file keeps every key a scenario may write, with its meaning, in one place.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr,
                      field_validator, model_validator)

from iomsim.scenario.paths import close_match
from iomsim.scenario.validation import error_at

NEEDS: tuple[str, ...] = (
    "accommodation", "education_training_employment", "finance", "relationships",
    "lifestyle_associates", "drugs", "alcohol", "emotional_wellbeing", "thinking_behaviour",
    "attitudes",
)
STATUSES: tuple[str, ...] = ("custody", "remand", "licence", "community_order", "unsupervised")
AT_LIBERTY: tuple[str, ...] = ("licence", "community_order", "unsupervised")
CORE_AGENCIES: tuple[str, ...] = (
    "police", "probation", "prison", "courts", "housing", "nhs", "drug_alcohol_treatment",
    "local_authority", "vcs",
)
VICTIMS = "victims"
LIST = " (a list: address an item in --set by its index, e.g. {ex})"

Need = Literal[
    "accommodation", "education_training_employment", "finance", "relationships",
    "lifestyle_associates", "drugs", "alcohol", "emotional_wellbeing", "thinking_behaviour",
    "attitudes",
]
Status = Literal["custody", "remand", "licence", "community_order", "unsupervised"]


def _fraction(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        if 1.0 < value <= 100.0:
            raise ValueError(f"expected a fraction between 0 and 1; {value:g} looks like a "
                             f"percent (write {value / 100:g})")
        raise ValueError(f"expected a fraction between 0 and 1, got {value:g}")
    return value


def _non_negative(value: float) -> float:
    if value < 0:
        raise ValueError(f"expected a number >= 0, got {value:g}")
    return value


def _positive(value: float) -> float:
    if not value > 0:
        raise ValueError(f"expected a number > 0, got {value:g}")
    return value


def _identifier(value: str) -> str:
    if not value or not all(c.islower() or c.isdigit() or c == "_" for c in value) \
            or not value[0].isalpha():
        raise ValueError(f"expected a lower-case name of letters, digits and _, got {value!r}")
    if value == VICTIMS:
        raise ValueError("'victims' is reserved for the cost of crime; name an agency")
    return value


def whole_number(minimum: int, maximum: int | None = None) -> Any:
    """The type of a whole number from ``minimum`` (to ``maximum``). Refuses what YAML reads as
    another type (``3.0``, ``yes``) rather than converting it."""
    shown = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"

    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum \
                or (maximum is not None and value > maximum):
            raise ValueError(f"expected a whole number {shown}, got {value!r}")
        return value

    return Annotated[int, BeforeValidator(check)]


def at_least(limit: float, reason: str):
    """A check that a number is at least ``limit``; the error gives ``reason``."""
    def check(value: float) -> float:
        if not value >= limit:
            raise ValueError(f"expected at least {limit:,g}, got {value:,g}: {reason}")
        return value

    return check


def at_most(limit: float, reason: str) -> AfterValidator:
    """A check that a number is at most ``limit``; the error gives ``reason``."""
    def check(value: float) -> float:
        if value > limit:
            raise ValueError(f"expected at most {limit:,g}, got {value:,g}: {reason}")
        return value

    return AfterValidator(check)


# Upper bounds. A run simulates every event one by one, so its time grows with rates and
# multipliers; money is summed over events, offenders and years. The limits are far above any
# published value (README, "Limits") and keep a run's cost and its sums finite.
MAX_RATE_PER_YEAR = 1_000.0
RATE_REASON = ("about three events a day, above any recorded rate of contacts, breaches or "
               "exits; each event is simulated, so a run's time grows with the rate")
MAX_MULTIPLIER = 100.0
MULTIPLIER_REASON = ("a hundredfold change in a rate is beyond any published effect (the "
                     "shipped values are at most 2); events, and a run's time, grow with it")
MAX_MONEY = 1e9
MONEY_REASON = ("a billion pounds per unit is more than any agency spends on one offender; "
                "larger values overflow the tables' totals")
MAX_FRAILTY = 100.0
FRAILTY_REASON = ("an offender offending a hundred times as often as OGRS predicts is beyond "
                  "what OGRS and frailty can mean; events, and a run's time, grow with it")
MAX_FRAILTY_VARIANCE = 4.0
MAX_COMBINED_OFFENDING_MULTIPLIER = 1_000.0
MIN_HORIZON_YEARS = 1 / 12
# OGRS predicts proven reoffending; the engine offends at the proven rate divided by the chance
# that an offence is proven, so a tiny chance multiplies offending without limit.
MIN_PROVEN_PER_OFFENCE = 1e-3
# Offences a year of the riskiest offender the scenario can have (at frailty 1), where the
# scenario alone tells: about 27 a day, beyond any recorded offending.
MAX_OFFENCES_PER_YEAR = 10_000.0
# A lognormal, gamma or beta given by a mean and an sd this small relative to the mean has
# parameters beyond 1e12, which overflow or lose all precision; sd 0 means a constant instead.
MIN_RELATIVE_SD = 1e-6


def shown(unit: str | None = None, allowed: str | None = None) -> Any:
    """Annotations for the JSON Schema only (``x-unit``, ``x-range``), read by the scenario
    reference (docs/scenarios.md); validation is the validators' alone."""
    extra = {k: v for k, v in (("x-unit", unit), ("x-range", allowed)) if v}
    return Field(json_schema_extra=extra)


Fraction = Annotated[float, AfterValidator(_fraction), shown("fraction", "0 to 1")]
NonNegative = Annotated[float, AfterValidator(_non_negative), shown(allowed=">= 0")]
Positive = Annotated[float, AfterValidator(_positive), shown(allowed="> 0")]
Money = Annotated[float, AfterValidator(_non_negative), at_most(MAX_MONEY, MONEY_REASON),
                  Field(json_schema_extra={"x-money": True, "x-unit": "£ at price_year",
                                           "x-range": f"0 to {MAX_MONEY:,.0f}"})]
Days = Annotated[float, AfterValidator(_non_negative), shown("days", ">= 0")]
RatePerYear = Annotated[float, AfterValidator(_non_negative),
                        at_most(MAX_RATE_PER_YEAR, RATE_REASON),
                        shown("per year", f"0 to {MAX_RATE_PER_YEAR:,.0f}")]
Multiplier = Annotated[float, AfterValidator(_non_negative),
                       at_most(MAX_MULTIPLIER, MULTIPLIER_REASON),
                       shown("multiplier", f"0 to {MAX_MULTIPLIER:g}")]
Frailty = Annotated[float, AfterValidator(_positive), at_most(MAX_FRAILTY, FRAILTY_REASON),
                    shown("multiplier", f"> 0 to {MAX_FRAILTY:g}")]
Agency = Annotated[str, AfterValidator(_identifier)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_default=True)


def _check_shares(shares: dict[str, float], what: str, *, total: float | None = 1.0,
                  at: str | None = None) -> None:
    s = sum(shares.values())
    message = None
    # Name every share: some may be inherited from a file the user has not opened.
    parts = ", ".join(f"{k} {v:g}" for k, v in shares.items())
    if total is not None and not math.isclose(s, total, abs_tol=1e-6):
        message = f"{what} must sum to 1, they sum to {s:.6g} ({parts})"
    if total is None and s > 1.0 + 1e-9:
        message = f"{what} must sum to at most 1, they sum to {s:.6g} ({parts})"
    if message:
        raise error_at(at, message) if at else ValueError(message)


DistributionKind = Literal["fixed", "normal", "lognormal", "gamma", "beta", "uniform",
                           "triangular", "poisson", "negative_binomial"]
# Kinds whose low and high, when given, bound draws (rather than define the distribution, as they
# do for uniform and triangular).
BOUNDED_KINDS: tuple[str, ...] = ("normal", "lognormal", "gamma", "beta", "poisson",
                                  "negative_binomial")


class Distribution(Strict):
    """A distribution of a quantity, given by its moments or its ends.

    ``fixed`` (value), ``normal``/``lognormal``/``gamma`` (mean, sd), ``beta`` (mean, sd; for
    quantities in (0, 1)), ``uniform`` (low, high), ``triangular`` (low, mode, high),
    ``poisson`` and ``negative_binomial`` (mean, and sd > sqrt(mean) for the latter).

    ``low`` and ``high`` are the ends of a ``uniform`` or ``triangular``. On the other kinds
    either or both may be given, and they clip draws: a draw below ``low`` is ``low``, so the
    chance of falling outside piles up at the bound (the distribution is not renormalised). A
    sweep parameter (:class:`ParameterDistribution`) may truncate instead.
    """

    distribution: DistributionKind = Field(description=(
        "the kind: fixed (value), normal, lognormal or gamma (mean, sd), beta (mean, sd; a "
        "quantity in (0, 1)), uniform (low, high), triangular (low, mode, high), poisson (mean), "
        "negative_binomial (mean, sd with sd^2 > mean); every number is in the unit of the "
        "quantity it describes"))
    value: float | None = Field(None, description="the value of a fixed distribution")
    mean: float | None = Field(None, description="the mean (normal, lognormal, gamma, beta, "
                                                 "poisson, negative_binomial)")
    sd: NonNegative | None = Field(None, description="the standard deviation (normal, lognormal, "
                                                     "gamma, beta, negative_binomial)")
    low: float | None = Field(None, description="the lower end of a uniform or triangular; on "
                                                "other kinds a draw below it is set to it "
                                                "(clipped, not renormalised)")
    mode: float | None = Field(None, description="the most likely value of a triangular")
    high: float | None = Field(None, description="the upper end of a uniform or triangular; on "
                                                 "other kinds a draw above it is set to it "
                                                 "(clipped, not renormalised)")

    @model_validator(mode="after")
    def _valid(self) -> "Distribution":
        self._check()
        return self

    def _needs(self) -> tuple[str, ...]:
        """The keys this kind of distribution must be given."""
        return {
            "fixed": ("value",), "normal": ("mean", "sd"), "lognormal": ("mean", "sd"),
            "gamma": ("mean", "sd"), "beta": ("mean", "sd"), "uniform": ("low", "high"),
            "triangular": ("low", "mode", "high"), "poisson": ("mean",),
            "negative_binomial": ("mean", "sd"),
        }[self.distribution]

    def _beta_range(self) -> tuple[float, float]:
        """The interval a beta lives on, on which its mean and sd are given."""
        return 0.0, 1.0

    def _check(self) -> None:
        kind = self.distribution
        need = self._needs()
        missing = [k for k in need if getattr(self, k) is None]
        if missing:
            # Reported at the first missing key, as any missing required key is.
            raise error_at(missing[0], f"a {kind} distribution needs {', '.join(need)}; "
                           f"missing {', '.join(missing)}")
        if kind in ("lognormal", "gamma", "poisson", "negative_binomial") \
                and self.mean is not None and self.mean <= 0:
            raise error_at("mean", f"a {kind} distribution needs mean > 0")
        if kind in ("lognormal", "gamma", "beta") and self.mean is not None and self.sd \
                and self.sd < MIN_RELATIVE_SD * abs(self.mean):
            constant = "give sd: 0" if kind != "beta" else "use distribution: fixed"
            raise error_at("sd", f"sd {self.sd:g} is below a millionth of the mean: the {kind}'s "
                           "parameters would exceed 1e12 and overflow; for a constant, "
                           f"{constant}")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise error_at("low", f"low ({self.low:g}) must not exceed high ({self.high:g})")
        if kind == "beta" and self.mean is not None and self.sd is not None:
            lo, hi = self._beta_range()
            m, s = (self.mean - lo) / (hi - lo), self.sd / (hi - lo)
            if not 0 < m < 1:
                raise error_at("mean", f"a beta distribution needs {lo:g} < mean < {hi:g}")
            if not s > 0:
                raise error_at("sd", "a beta distribution needs sd > 0 (for a constant, use "
                               "distribution: fixed)")
            if s * s >= m * (1 - m):
                most = math.sqrt(m * (1 - m)) * (hi - lo)
                raise error_at("sd", f"a beta distribution needs sd^2 < mean*(1-mean): sd "
                               f"{self.sd:g} is too large for mean {self.mean:g} (the largest "
                               f"possible is just under {most:.4g})")
        if kind == "negative_binomial":
            assert self.mean is not None and self.sd is not None
            if self.sd * self.sd <= self.mean:
                raise error_at("sd", "a negative_binomial needs sd^2 > mean (else use poisson)")
        if kind == "triangular":
            assert self.low is not None and self.mode is not None and self.high is not None
            if not self.low <= self.mode <= self.high:
                raise error_at("mode", "a triangular distribution needs low <= mode <= high")


class ParameterDistribution(Distribution):
    """The distribution of a swept parameter (a sweep file's ``parameters``).

    The scenario's :class:`Distribution`, with the same meaning for every key it has, plus
    other ways to give three kinds (lognormal ``meanlog``, ``sdlog``: the mean and sd of the
    log; gamma ``shape``, ``scale``; beta ``alpha``, ``beta``) and ``bounds``.

    ``bounds`` says what ``low`` and ``high`` do to a kind they do not define (any but
    ``fixed``, ``uniform`` and ``triangular``), and must be given with them:

    * ``clip``: draws beyond them are moved onto them, as in a scenario;
    * ``truncate``: the distribution is conditioned on lying between them and renormalised,
      so that no chance piles up at a bound: what a range of belief about one uncertain value
      usually means, and the usual choice for a PSA;
    * ``rescale`` (beta only): the beta is stretched onto [low, high], and its mean and sd are
      given on that scale.

    (Sweep files used to truncate a normal, rescale a beta and ignore low and high on a
    lognormal or gamma without saying so; requiring ``bounds`` makes such a file say which it
    means rather than change meaning silently.)
    """

    meanlog: float | None = Field(None, description="lognormal given on the log scale: the "
                                                    "mean of the log (with sdlog)")
    sdlog: Positive | None = Field(None, description="lognormal given on the log scale: the sd "
                                                     "of the log (with meanlog)")
    shape: Positive | None = Field(None, description="gamma given by its shape (with scale)")
    scale: Positive | None = Field(None, description="gamma given by its scale (with shape)")
    alpha: Positive | None = Field(None, description="beta given by its first shape parameter "
                                                     "(with beta)")
    beta: Positive | None = Field(None, description="beta given by its second shape parameter "
                                                    "(with alpha)")
    bounds: Literal["clip", "truncate", "rescale"] | None = Field(None, description=(
        "what low and high do to a kind they do not define: clip (draws beyond them are moved "
        "onto them), truncate (renormalised between them) or rescale (beta only: stretched onto "
        "[low, high])"))

    _FORMS: ClassVar[dict[str, tuple[str, str]]] = {
        "lognormal": ("meanlog", "sdlog"), "gamma": ("shape", "scale"), "beta": ("alpha", "beta"),
    }

    def _other_form(self) -> bool:
        keys = self._FORMS.get(self.distribution, ())
        return any(getattr(self, k) is not None for k in keys)

    def _needs(self) -> tuple[str, ...]:
        if self._other_form():
            return self._FORMS[self.distribution]
        return super()._needs()

    def _beta_range(self) -> tuple[float, float]:
        if self.bounds == "rescale" and self.low is not None and self.high is not None:
            return self.low, self.high
        return super()._beta_range()

    def _check(self) -> None:
        kind = self.distribution
        given = [k for k in ("low", "high") if getattr(self, k) is not None]
        if self.bounds is not None:
            if kind not in BOUNDED_KINDS:
                raise error_at("bounds", f"bounds does not apply to a {kind} distribution"
                               + (": low and high are its ends" if kind != "fixed" else ""))
            if not given:
                raise error_at("bounds", "bounds says what low and high do; give low, high or "
                               "both")
            if self.bounds == "rescale" and kind != "beta":
                raise error_at("bounds", f"rescale applies to a beta only; for a {kind} use "
                               "clip or truncate")
            if self.bounds == "rescale" and len(given) < 2:
                raise error_at("bounds", "rescale stretches the beta onto [low, high]; give "
                               "both")
            if self.bounds == "rescale" and not self.low < self.high:
                raise error_at("low", "rescale needs low < high")
        elif given and kind in BOUNDED_KINDS:
            before = {"normal": "; sweep files used to truncate a normal without saying so",
                      "beta": "; sweep files used to rescale a beta without saying so",
                      "lognormal": "; sweep files used to ignore them on a lognormal",
                      "gamma": "; sweep files used to ignore them on a gamma"}.get(kind, "")
            rescale = ", or rescale (stretch the beta onto [low, high])" if kind == "beta" else ""
            verb = "needs" if len(given) == 1 else "need"
            raise error_at(given[0], f"{' and '.join(given)} on a {kind} {verb} "
                           f"bounds: truncate (renormalise the {kind} within them) or clip (move "
                           f"draws beyond them onto them, as a scenario does){rescale}{before}")
        if self._other_form():
            keys = self._FORMS[kind]
            if self.mean is not None or self.sd is not None:
                raise error_at(keys[0], f"give a {kind} by mean and sd or by {' and '.join(keys)}"
                               ", not both")
        super()._check()


class Profile(Strict):
    """How offenders are generated at the start of the pre-period."""

    male_share: Fraction = Field(0.9, description="probability an offender is male; sex does "
                                                  "not enter the dynamics")
    age: Distribution = Field(description="age in years at the start of the pre-period; "
                                          "reported, does not enter the dynamics")
    ogrs: Distribution = Field(description="OGRS: probability of a proven reoffence within two "
                                           "years at liberty (a fraction; draws are clipped to "
                                           "[1e-6, 1 - 1e-6])")
    previous_convictions: Distribution = Field(description=(
        "previous convictions (a count; negative draws are 0); generated but does not enter the "
        "dynamics or selection, which counts convictions in the pre-period"))
    frailty_variance: Annotated[float, AfterValidator(_non_negative), at_most(
        MAX_FRAILTY_VARIANCE, "a gamma of variance 4 (shape 1/4) already puts most offenders "
        "near no offending and a few at tens of times the mean; beyond it, offenders with high "
        "OGRS get baseline hazards of thousands of offences a year"),
        shown(allowed=f"0 to {MAX_FRAILTY_VARIANCE:g}")] = Field(
        0.0, description="variance of a gamma(mean 1) multiplier on each offender's offending "
                         "rate: variation beyond OGRS")
    needs: dict[Need, Fraction] = Field(default_factory=dict,
                                        description="prevalence of each OASys need area at the "
                                                    "start (a probability, by need area name); "
                                                    "areas not listed are never active")
    need_correlation: Fraction = Field(0.0, description="correlation between need areas "
                                                        "(one latent factor, Gaussian copula)")
    ogrs_need_loading: Annotated[float, Field(ge=-1, le=1)] = Field(
        0.0, description="loading of OGRS on the latent need factor (Gaussian copula): above 0, "
                         "offenders with more needs tend to have higher OGRS")
    status: dict[Status, Fraction] = Field(description="share of offenders in each status at the "
                                                       "start; must sum to 1")
    custody_days_remaining: Distribution | None = Field(None, description=(
        "days left in custody of those starting in custody (negative draws are 0); a licence "
        "follows release (see justice.release_fraction); required when status.custody > 0"))
    remand_days_remaining: Distribution | None = Field(None, description=(
        "days to the court day of those starting on remand (one pending offence at a "
        "magistrates' court); required when status.remand > 0"))
    licence_days_remaining: Distribution | None = Field(None, description=(
        "days left on licence of those starting on licence; required when status.licence > 0"))
    community_order_days_remaining: Distribution | None = Field(None, description=(
        "days left on a community order of those starting on one; required when "
        "status.community_order > 0"))

    @model_validator(mode="after")
    def _shares(self) -> "Profile":
        _check_shares(self.status, "status shares", at="status")
        for status, field in (("custody", "custody_days_remaining"),
                              ("remand", "remand_days_remaining"),
                              ("licence", "licence_days_remaining"),
                              ("community_order", "community_order_days_remaining")):
            if self.status.get(status, 0) > 0 and getattr(self, field) is None:
                raise error_at(f"status.{status}", f"status {status} has a share but {field} is "
                               "not given; expected a distribution of the days remaining")
        return self


class ScheduledEvent(Strict):
    """An event fixed in advance for one offender (the case study's release and recall)."""

    day: float = Field(description="simulation day of the event (day 0 is the selection "
                                   "date; the pre-period has negative days)")
    event: Literal["release", "recall", "exit"] = Field(description=(
        "release (from custody or remand), recall (to custody) or exit (leaves the simulation)"))
    days: Days | None = Field(None, description="for recall: days in custody (default: drawn)")


class OffenderRecord(Strict):
    """One offender given explicitly, instead of drawn from a profile."""

    id: str = Field(description="the offender's identifier (text)")
    sex: Literal["male", "female"] = Field("male", description="does not enter the dynamics")
    age: Annotated[float, AfterValidator(_positive), shown("years", "> 0")] = Field(
        description="age in years at the start of the pre-period; does not enter the dynamics")
    ogrs: Fraction = Field(description="OGRS: probability of a proven reoffence within two "
                                       "years at liberty")
    previous_convictions: NonNegative = Field(0, description="previous convictions (a count); "
                                                             "does not enter the dynamics")
    frailty: Frailty = Field(1.0, description="individual multiplier on the offending rate "
                                              "(1: as OGRS predicts)")
    needs: list[Need] = Field(default_factory=list, description="need areas active at the start")
    status: Status = Field("unsupervised", description="status at the start of the pre-period")
    status_days_remaining: Days = Field(0.0, description="days left in that status (custody, "
                                                         "remand, licence or community order)")
    licence_days_after_release: Days | None = Field(None, description="licence length after "
                                                    "release from custody (default: a year or "
                                                    "the minimum supervision)")
    scheduled_events: list[ScheduledEvent] = Field(default_factory=list, description=(
        "events fixed in advance for this offender" + LIST.format(
            ex="cohort.offenders[0].scheduled_events[1].day")))


class Cohort(Strict):
    """Where offenders come from: a generated population, a CSV of records, or a list."""

    size: Annotated[int, Field(ge=1)] | None = Field(None, description=(
        "how many offenders a profile generates (required with profile; a CSV or a list gives "
        "its own number); not how many IOM selects, which is selection.cohort_size"))
    profile: Profile | None = Field(None, description="generate the offenders from "
                                                      "distributions")
    from_csv: str | None = Field(None, description="CSV of anonymised records, relative to "
                                                   "the scenario file's folder")
    allow_outside_folder: bool = Field(False, description="allow from_csv to name a file outside "
                                                          "the scenario's folder tree")
    offenders: list[OffenderRecord] | None = Field(None, description=(
        "offenders listed one by one" + LIST.format(ex="cohort.offenders[0].ogrs")))

    @field_validator("size", mode="before")
    @classmethod
    def _not_empty(cls, value):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0:
            raise ValueError("the cohort is empty (size 0); expected at least 1 offender")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> "Cohort":
        given = [k for k in ("profile", "from_csv", "offenders") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of profile, from_csv or offenders; got "
                             + (", ".join(given) or "none"))
        if self.profile is not None and self.size is None:
            raise error_at("size", "a generated cohort needs size (how many offenders to generate)")
        if self.offenders is not None and len(self.offenders) == 0:
            raise error_at("offenders", "the cohort is empty; list at least one offender")
        return self


class Selection(Strict):
    """IOM selection at day 0, after the pre-period."""

    cohort_size: Annotated[int, Field(ge=1)] = Field(description="how many to select (the best-"
                                                                 "ranked eligible offenders)")
    ogrs_min: Fraction = Field(0.0, description="eligible if OGRS is at least this")
    min_needs: Annotated[int, Field(ge=0)] = Field(0, description="eligible if at least this "
                                                                  "many need areas are active")
    min_convictions_pre_period: Annotated[int, Field(ge=0)] = Field(
        0, description="eligible if at least this many conviction appearances fell in the "
                       "pre-period")
    statuses: list[Status] = Field(default_factory=lambda: list(STATUSES),
                                   description="eligible if in one of these statuses at day 0")
    rank_by: Literal["convictions_pre_period", "ogrs", "recent_convictions"] = Field(
        "convictions_pre_period", description=(
            "order of the eligible: conviction appearances in the pre-period, then OGRS, then "
            "index; or ogrs first; or recent_convictions, a prolific-offender style score "
            "(offences convicted in the pre-period, each weighted by recency with "
            "recency_half_life_days), then OGRS"))
    recency_half_life_days: Annotated[float, Field(gt=0), shown("days", "> 0")] = Field(
        182.625, description="with rank_by recent_convictions: a conviction this many days "
                             "before day 0 counts half as much as one at day 0")
    ogrs_at_registration: bool = Field(False, description=(
        "measure OGRS at day 0, as an evaluation takes it at registration: OGRS3's Copas rate "
        "recomputed with the sanctions of the pre-period (previous convictions plus "
        "conviction appearances before day 0) and the career since; the predicted rate of "
        "actual_vs_predicted_reduction is then its mean (false: OGRS at the start)"))
    age_at_first_sanction: Annotated[float, Field(ge=8, le=80), shown("years", "8 to 80")] = \
        Field(17.0, description="with ogrs_at_registration: age at the first sanction, which "
                                "sets the length of the criminal career in the Copas rate")


class OffenceType(Strict):
    share: Fraction = Field(description="share of offences of this type (the shares of all "
                                        "types sum to 1)")
    detection_probability: Fraction = Field(description="probability an offence of this type "
                                                        "is detected (leads to arrest)")
    crown_court_probability: Fraction = Field(0.0, description=(
        "probability a case opened by a charged offence of this type is heard at the Crown "
        "Court (else a magistrates' court)"))
    cost_of_crime: Money = Field(0.0, description="cost to victims and society per offence, "
                                                  "excluding the criminal justice response (£; "
                                                  "paid by the pseudo-agency victims)")
    cost_of_crime_response: Money = Field(0.0, description=(
        "the published cost of the criminal justice response per offence of this type (£): "
        "never charged in a run (the model costs police, courts, prison and probation itself); "
        "added to cost_of_crime to give the full cost per offence that the evaluation's "
        "benefit measure values a proven reoffence at"))
    police_investigation_cost: Money = Field(0.0, description="police cost per detected offence "
                                                              "beyond arrest and custody (£)")


MAX_DESISTANCE_PER_YEAR = 1.0
DESISTANCE_SLOPE_LIMIT = 0.2


def _refuse_replaced(data: Any, replaced: dict[str, str]) -> Any:
    """Refuse a key that a newer one replaces, naming the replacement (a mode="before" check:
    ``extra="forbid"`` would only say the key is unknown)."""
    if isinstance(data, dict):
        for old, new in replaced.items():
            if old in data:
                raise error_at(old, f"{old} is replaced by {new}")
    return data


class OffendingPhases(Strict):
    """Offending that changes over time: every offender moves between an active and a quiet
    phase (a two-state Markov chain in continuous time, independent of everything else, run in
    custody as at liberty), offending faster when active. The multipliers are scaled so that
    their long-run mean is 1: OGRS keeps its meaning for an offender met at a random time."""

    active_share: Annotated[float, Field(gt=0, lt=1), shown("fraction", "between 0 and 1")] = \
        Field(description="long-run share of time in the active phase (also the chance of "
                          "starting active)")
    active_rate_ratio: Annotated[float, Field(ge=1), at_most(
        MAX_MULTIPLIER, MULTIPLIER_REASON), shown("multiplier", f"1 to {MAX_MULTIPLIER:g}")] = \
        Field(description="offending rate in the active phase divided by the rate in the "
                          "quiet phase")
    mean_active_days: Annotated[float, Field(gt=0, le=36525), shown("days", "> 0")] = Field(
        description="mean length of an active phase; a quiet phase lasts on average "
                    "mean_active_days x (1 - active_share) / active_share")


class Desistance(Strict):
    """Desistance with age: every offender stops offending for good at a constant hazard that
    depends on their age at the start of the simulation (an age-crime curve)."""

    annual_rate_at_age_30: Annotated[float, AfterValidator(_non_negative), at_most(
        MAX_DESISTANCE_PER_YEAR, "a hazard of 1 a year already ends most careers within two "
        "years"), shown("per year", f"0 to {MAX_DESISTANCE_PER_YEAR:g}")] = Field(
        description="hazard per year of stopping offending for good, at age 30")
    age_slope: Annotated[float, Field(ge=-DESISTANCE_SLOPE_LIMIT, le=DESISTANCE_SLOPE_LIMIT),
                         shown("per year of age", f"{-DESISTANCE_SLOPE_LIMIT:g} to "
                               f"{DESISTANCE_SLOPE_LIMIT:g}")] = Field(
        0.0, description="change of the log hazard per year of age: the hazard at age a is "
                         "annual_rate_at_age_30 x exp(age_slope x (a - 30))")


class Offending(Strict):
    offence_types: dict[str, OffenceType] = Field(description=(
        "offence types by name (lower-case names of your choice; see docs/scenarios.md for the "
        "shipped ones)"))
    release_multiplier: Multiplier = Field(1.0, description="offending rate multiplier in the "
                                                            "first release_window_days at liberty")
    release_window_days: Days = Field(0.0, description="days after release from custody or "
                                                       "remand during which release_multiplier "
                                                       "applies")
    need_multipliers: dict[Need, Multiplier] = Field(
        default_factory=dict, description="offending rate multiplier while a need is active, by "
                                          "need area (not listed: 1)")
    rate_multiplier: Multiplier = Field(1.0, description=(
        "offending rate multiplier for everyone, in both arms and the pre-period (0.85: "
        "offending 15% lower)"))
    phases: OffendingPhases | None = Field(None, description=(
        "active and quiet phases of offending (none: each offender's rate is fixed for life)"))
    desistance: Desistance | None = Field(None, description=(
        "stopping offending for good, at a hazard that rises or falls with age (none: nobody "
        "desists)"))

    @model_validator(mode="after")
    def _mix(self) -> "Offending":
        if not self.offence_types:
            raise error_at("offence_types", "offence_types must name at least one offence type")
        for name in self.offence_types:
            try:
                _identifier(name)
            except ValueError as exc:
                raise error_at(f"offence_types.{name}", f"offence type name: {exc}") from None
        _check_shares({k: v.share for k, v in self.offence_types.items()}, "offence type shares",
                      at="offence_types")
        combined = self.release_multiplier * math.prod(self.need_multipliers.values())
        if combined > MAX_COMBINED_OFFENDING_MULTIPLIER:
            raise error_at("need_multipliers", f"together the need multipliers and the release "
                           f"multiplier can multiply an offender's offending rate by "
                           f"{combined:,.4g}, more than {MAX_COMBINED_OFFENDING_MULTIPLIER:,g}: "
                           "beyond any published effect; events, and a run's time, grow with "
                           "it")
        return self


class CourtCosts(Strict):
    court: Money = Field(0.0, description="£ per court day of a case (also per community-order "
                                          "breach hearing, magistrates'), to courts")
    prosecution: Money = Field(0.0, description="£ of prosecution per court day of a case, to "
                                                "courts")
    legal_aid: Money = Field(0.0, description="£ of legal aid per court day of a case, to courts")


class CourtSentencing(Strict):
    custody_probability: Fraction = Field(description=(
        "probability a case with at least one conviction is sentenced to custody (drawn once "
        "per case)"))
    community_order_probability: Fraction = Field(description=(
        "probability a case with at least one conviction gets a community order; custody + "
        "community order <= 1, the rest another disposal with no further cost"))
    custody_days: Distribution = Field(description="custodial sentence length in days (the "
                                                   "custodial part is justice.release_fraction "
                                                   "of it)")
    delay_days: Distribution = Field(description="days from the charge that opens a case to "
                                                 "its court day")
    costs: CourtCosts = Field(default_factory=CourtCosts, description="what one court day costs")

    @model_validator(mode="after")
    def _shares(self) -> "CourtSentencing":
        _check_shares({"custody": self.custody_probability,
                       "community_order": self.community_order_probability},
                      "custody_probability + community_order_probability", total=None)
        return self


class Recall(Strict):
    on_charge_probability: Fraction = Field(0.0, description="probability a charge on licence "
                                                             "recalls (then no remand)")
    fixed_term_share: Fraction = Field(0.5, description="probability a recall is fixed-term "
                                                        "(else standard)")
    fixed_term_days_short_sentence: Days = Field(14.0, description=(
        "days of a fixed-term recall after a sentence shorter than short_sentence_days"))
    fixed_term_days_long_sentence: Days = Field(28.0, description=(
        "days of a fixed-term recall after a longer sentence"))
    short_sentence_days: Days = Field(365.0, description="sentences shorter than this get the "
                                                         "short fixed term")
    standard_days: Distribution = Field(description="days of a standard recall, clipped to "
                                                    "[1, days of licence left]")
    police_cost: Money = Field(0.0, description="£ per recall, to police")
    probation_cost: Money = Field(0.0, description="£ per recall, to probation")


class Justice(Strict):
    arrest_cost: Money = Field(0.0, description="£ of police arrest and custody, per detected "
                                                "offence")
    charge_probability: Fraction = Field(description="probability a detected offence is charged")
    caution_probability: Fraction = Field(0.0, description=(
        "probability a detected offence ends in a caution (proven that day); charge + caution "
        "<= 1, the rest no further action"))
    remand_probability: Fraction = Field(0.0, description=(
        "probability an offender charged at liberty (and not recalled) is remanded in custody "
        "until the court day"))
    conviction_probability: Fraction = Field(description="probability each charged offence of a "
                                                         "case is convicted")
    extra_offences_per_conviction: Annotated[float, AfterValidator(_non_negative), at_most(
        100, "a hundred offences taken into consideration at one appearance is beyond any "
        "recorded case"), shown("offences", "0 to 100")] = Field(
        0.0, description="mean of a Poisson count of further offences dealt with at the same "
                         "appearance (taken into consideration)")
    magistrates: CourtSentencing = Field(description="magistrates' courts: sentencing, delay "
                                                     "and costs")
    crown: CourtSentencing = Field(description="the Crown Court: sentencing, delay and costs")
    release_fraction: Fraction = Field(0.5, description=(
        "fraction of a custodial sentence served before release on licence (less days on "
        "remand); the rest is licence"))
    minimum_supervision_after_release_days: Days = Field(
        0.0, description="licence plus post-sentence supervision lasts at least this long")
    community_order_days: Distribution = Field(description="length of a community order in "
                                                           "days")
    licence_breach_rate_per_year: RatePerYear = Field(0.0, description=(
        "breaches per year on licence; each recalls (x iom.enforcement.recall_multiplier on "
        "IOM)"))
    community_order_breach_rate_per_year: RatePerYear = Field(0.0, description=(
        "breaches per year on a community order; each costs justice.magistrates.costs.court"))
    breach_custody_probability: Fraction = Field(0.0, description=(
        "probability a community-order breach ends the order with custody (length from "
        "magistrates.custody_days)"))
    recall: Recall = Field(description="recall to custody from licence")
    prison_cost_per_day: Money = Field(description="£ per day in custody (sentenced, remanded or "
                                                   "recalled), to prison")
    licence_cost_per_year: Money = Field(0.0, description="£ per year on licence, to probation")
    community_order_cost_per_year: Money = Field(0.0, description="£ per year on a community "
                                                                  "order, to probation")
    pre_sentence_report_cost: Money = Field(0.0, description="£ per case with a conviction, to "
                                                             "probation")

    @model_validator(mode="after")
    def _outcomes(self) -> "Justice":
        _check_shares({"charge": self.charge_probability, "caution": self.caution_probability},
                      "charge_probability + caution_probability", total=None)
        return self


class Exits(Strict):
    death_rate_per_year: RatePerYear = Field(0.0, description=(
        "deaths per offender per year, in every status; the exited stay in the denominators"))
    move_away_rate_per_year: RatePerYear = Field(0.0, description=(
        "moves out of the area per offender per year at liberty"))


class NeedDynamics(Strict):
    resolution_rate_per_year: RatePerYear = Field(0.0, description=(
        "rate per year at which an active need resolves (raised by IOM pathway referrals and "
        "services)"))
    relapse_rate_per_year: RatePerYear = Field(0.0, description=(
        "rate per year at which a resolved need that was active at the start becomes active "
        "again"))


class Service(Strict):
    """A service offenders use while eligible, paid by one agency.

    Eligible while the offender's status is in ``statuses``, any of ``needs_any`` is active (or
    always, when empty) and, if given, within ``within_days_of_release`` of release. Whether an
    offender uses it is drawn once per offender (``uptake``); within a ``group`` the options are
    exclusive and their uptakes are shares. Cost accrues by duration (``cost_per_day``) and by
    expected contacts (``contacts_per_year`` x ``cost_per_contact``).
    """

    agency: Agency = Field(description="the agency that pays (a lower-case name; a new name is "
                                       "a new agency)")
    item: str | None = Field(None, description="the cost item's name in the results (default: "
                                               "the service's name)")
    statuses: list[Status] = Field(default_factory=lambda: list(AT_LIBERTY), description=(
        "eligible in these statuses (default: at liberty)"))
    needs_any: list[Need] = Field(default_factory=list, description=(
        "eligible while any of these need areas is active (empty: always)"))
    within_days_of_release: Days | None = Field(None, description=(
        "eligible only within this many days of the last release (none: any time)"))
    uptake: Fraction = Field(1.0, description="probability an offender takes it up, drawn once "
                                              "per offender; in a group, its share")
    iom_uptake: Fraction | None = Field(None, description="uptake while on IOM (pathway "
                                                          "referral); default: uptake")
    group: str | None = Field(None, description=(
        "name of a set of exclusive options: an offender takes up at most one; their uptakes "
        "are laid end to end"))
    cost_per_day: Money = Field(0.0, description="£ per day of use")
    contacts_per_year: RatePerYear = Field(0.0, description=(
        "expected contacts per year of use (costed, not drawn)"))
    cost_per_contact: Money = Field(0.0, description="£ per contact")
    capacity_per_1000: Positive | None = Field(None, description="places per 1,000 offenders "
                                                                 "simulated; none = unlimited")
    need_resolution_multiplier: dict[Need, Multiplier] = Field(default_factory=dict, description=(
        "multiplier on the resolution rate of each named need while using the service (not "
        "while waiting for a place)"))


class OffenderManager(Strict):
    agency: Agency | None = Field(None, description=(
        "the agency employing the role (default: the role's name, e.g. probation)"))
    share: Fraction = Field(description="share of IOM offenders managed by this role")
    annual_cost: Money = Field(description="salary and on-costs of one offender manager a year "
                                           "(£)")
    caseload: Annotated[float, AfterValidator(at_least(
        1, "an offender manager's salary is divided by the caseload, so below one offender it "
        "is multiplied without limit")), shown("offenders", ">= 1")] = Field(description=(
        "offenders per manager: each costs annual_cost / caseload a year on IOM"))


class Attendee(Strict):
    agency: Agency = Field(description="the attendee's agency")
    hours: Annotated[float, AfterValidator(_non_negative), at_most(
        24, "a case conference lasts no more than a day"), shown("hours", "0 to 24")] = Field(
        description="hours per conference")
    hourly_cost: Money = Field(description="£ per hour")


class CaseConferences(Strict):
    per_year: RatePerYear = Field(0.0, description=(
        "conferences per year per offender on IOM: each costs per_year x hours x hourly_cost / "
        "offenders_per_conference a year"))
    offenders_per_conference: Annotated[float, AfterValidator(at_least(
        1, "a conference's cost is divided among the offenders it discusses, so below one it "
        "is multiplied without limit")), shown("offenders", ">= 1")] = Field(
        1.0, description="offenders discussed at one "
                                                                  "conference")
    attendees: list[Attendee] = Field(default_factory=list, description=(
        "who attends" + LIST.format(ex="iom.case_conferences.attendees[0].hours")))


class Enforcement(Strict):
    cost_per_offender_year: Money = Field(0.0, description="£ per year per offender on IOM")
    agency: Agency = Field("police", description="the agency that pays for enforcement")
    detection_multiplier: Multiplier = Field(1.0, description=(
        "multiplier on each offence type's detection probability on IOM (capped at 1)"))
    recall_multiplier: Multiplier = Field(1.0, description=(
        "multiplier on the licence breach rate and the recall-on-charge probability on IOM"))


class PathwayReferrals(Strict):
    cost_per_referral: Money = Field(0.0, description=(
        "£ per referral: one per need active at the start of IOM and per relapse on IOM"))
    agency: Agency = Field("vcs", description="the agency that pays for referrals")
    need_resolution_multiplier: Multiplier = Field(1.0, description=(
        "multiplier on every need's resolution rate on IOM"))


class IomEffects(Strict):
    offending_multiplier: Multiplier = Field(1.0, description="offending rate multiplier for "
                                                              "responders while on IOM")
    offending_multiplier_cv: Annotated[float, AfterValidator(_non_negative), at_most(
        10, "a coefficient of variation of 10 puts responders' multipliers from near 0 to far "
        "above any effect"), shown(allowed="0 to 10")] = Field(
        0.0, description="coefficient of variation (sd / mean) of the multiplier among "
                         "responders (lognormal with mean offending_multiplier)")
    responder_share: Fraction = Field(1.0, description=(
        "probability an offender on IOM responds (drawn at the start of IOM); others keep "
        "multiplier 1"))
    persistence_half_life_days: Days = Field(0.0, description=(
        "half-life of the effect after IOM ends: each responder keeps the offending multiplier "
        "for an exponential time with this half-life (mean half-life / ln 2) after "
        "de-selection; 0: the effect ends with IOM"))

    @model_validator(mode="before")
    @classmethod
    def _replaced(cls, data: Any) -> Any:
        return _refuse_replaced(data, {
            "offending_multiplier_sd": "offending_multiplier_cv (the spread as sd / mean)",
            "persist_days_after_deselection": "persistence_half_life_days (an exponential "
                                              "decay of the effect after de-selection)"})


class Iom(Strict):
    max_duration_days: Positive | None = Field(None, description=(
        "days on IOM at most from its start (none: to the horizon)"))
    deselect_after_offence_free_days: Positive | None = Field(None, description=(
        "de-selected after this many days without a detected offence (none: never)"))
    offender_managers: dict[str, OffenderManager] = Field(default_factory=dict, description=(
        "offender-manager roles by name (e.g. probation, police, vcs; a role's agency is its "
        "name unless it gives agency:), in --set as iom.offender_managers.probation.caseload; "
        "shares sum to 1; a role set to null removes a role inherited through extends:"))
    case_conferences: CaseConferences = Field(default_factory=CaseConferences,
                                              description="multi-agency case conferences")
    co_location_cost_per_offender_year: dict[Agency, Money] = Field(
        default_factory=dict, description="£ per year per offender on IOM, by agency")
    enforcement: Enforcement = Field(default_factory=Enforcement,
                                     description="enforcement: cost and effects on detection "
                                                 "and recall")
    pathway_referrals: PathwayReferrals = Field(default_factory=PathwayReferrals,
                                                description="referrals to services for needs")
    effects: IomEffects = Field(default_factory=IomEffects,
                                description="IOM's effect on offending")
    places_per_1000: Positive | None = Field(
        None, description="offender-manager caseload capacity: IOM places per 1,000 selected "
                          "offenders; those beyond it wait for a place (none = no limit)")

    @model_validator(mode="before")
    @classmethod
    def _managers_by_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("offender_managers"), list):
            raise error_at("offender_managers", managers_as_mapping(data["offender_managers"]))
        if isinstance(data, dict) and isinstance(data.get("offender_managers"), dict):
            # A role set to null removes the role a scenario it extends has.
            data = {**data, "offender_managers": {k: v for k, v in data["offender_managers"].items()
                                                  if v is not None}}
        return data

    @model_validator(mode="after")
    def _manager_shares(self) -> "Iom":
        for name, manager in self.offender_managers.items():
            try:
                _identifier(name)
            except ValueError as exc:
                raise error_at(f"offender_managers.{name}", f"role name: {exc}") from None
            if manager.agency is None:
                manager.agency = name
        if self.offender_managers:
            _check_shares({name: m.share for name, m in self.offender_managers.items()},
                          "offender manager shares", at="offender_managers")
        return self


def managers_as_mapping(items: list) -> str:
    """Why a list of offender managers is refused, with the mapping to write instead."""
    names: list[str] = []
    for i, item in enumerate(items):
        agency = item.get("agency") if isinstance(item, dict) else None
        if isinstance(agency, dict):
            agency = agency.get("value")
        name = agency if isinstance(agency, str) and agency else f"role_{i + 1}"
        names.append(name if name not in names else f"{name}_{i + 1}")
    example = ", ".join(f"{n}: {{share: ..., annual_cost: ..., caseload: ...}}" for n in names)
    return ("offender managers are now named by role, not listed; write them as a mapping by "
            f"role name, e.g. offender_managers: {{{example}}} (a role's agency is its name "
            "unless it gives agency:); --set then names a role: "
            f"iom.offender_managers.{names[0] if names else 'probation'}.caseload")


Payer = Literal["central", "local", "voluntary"]
PAYERS: tuple[str, ...] = ("central", "local", "voluntary", "other")
DEFAULT_PAYERS: dict[str, str] = {
    "prison": "central", "courts": "central", "probation": "central",
    "police": "local", "housing": "local", "nhs": "local", "drug_alcohol_treatment": "local",
    "local_authority": "local", "vcs": "voluntary"}
DEFAULT_CASHABLE_SHARE: dict[str, float] = {"prison": 0.0}


class Economics(Strict):
    benefit_agencies: list[Agency] = Field(
        default_factory=lambda: ["police", "courts", "prison", "probation"],
        description="agencies whose averted costs count as benefit (criminal justice)")
    include_victims_in_benefit: bool = Field(True, description=(
        "count the averted cost of crime to victims in benefit and benefit_per_pound"))
    cashable_share: dict[Agency, Fraction] = Field(
        default_factory=lambda: dict(DEFAULT_CASHABLE_SHARE), description=(
            "share of a change in an agency's costs that is released (or spent) as cash, by "
            "agency name (an agency not named keeps its default: prison 0, others 1): what "
            "benefit_per_pound_taxpayer_cashable counts. A prison day at the average cost "
            "frees no cash unless places close (default prison: 0)"))
    payers: dict[Agency, Payer] = Field(
        default_factory=lambda: dict(DEFAULT_PAYERS), description=(
            "who pays for each agency, for savings by payer: central (government "
            "departments), local (local police, councils and local health services) or "
            "voluntary; an agency not named keeps its default (prison, courts, probation: "
            "central; police, housing, nhs, drug_alcohol_treatment, local_authority: local; "
            "vcs: voluntary; any other agency: other)"))

    def cashable(self, agency: str) -> float:
        """The cashable share of a change in ``agency``'s costs."""
        return self.cashable_share.get(agency, DEFAULT_CASHABLE_SHARE.get(agency, 1.0))

    def payer(self, agency: str) -> str:
        """Who pays ``agency``'s costs."""
        return self.payers.get(agency, DEFAULT_PAYERS.get(agency, "other"))


CapacityScale = Annotated[float, AfterValidator(_positive), at_most(
    MAX_MULTIPLIER, "a hundredfold change in a service's places is beyond any plan"),
    shown("multiplier", f"> 0 to {MAX_MULTIPLIER:g}")]


class Scale(Strict):
    """Scale knobs: change a group of values by a factor without restating them. Applied when
    the model is compiled; the validated values keep what the files say, and the manifest
    records the knobs. A value in a file needs source: or assumption: (why it differs)."""

    agency_costs: dict[Agency, Multiplier] = Field(default_factory=dict, description=(
        "multiplier on every cost an agency pays (unit costs, salaries, services, IOM items), "
        "by agency name, e.g. housing: 1.2 for housing costs 20% higher"))
    service_capacity: CapacityScale | dict[str, CapacityScale] = Field(1.0, description=(
        "multiplier on the places (capacity_per_1000) of every service with a capacity (a "
        "number), or of each named service (a mapping by service name, e.g. "
        "temporary_accommodation: 0.8)"))

    def agency_cost(self, agency: str) -> float:
        """The multiplier on the costs ``agency`` pays."""
        return self.agency_costs.get(agency, 1.0)

    def capacity(self, service: str) -> float:
        """The multiplier on the places of ``service``."""
        if isinstance(self.service_capacity, dict):
            return self.service_capacity.get(service, 1.0)
        return self.service_capacity


class Limits(Strict):
    max_offenders: Annotated[int, Field(ge=1)] = Field(1_000_000, description=(
        "largest cohort accepted: time and memory grow with it"))


class Scenario(Strict):
    """A whole scenario, after ``extends:`` and overrides are resolved."""

    _meta: Any = PrivateAttr(default=None)

    name: str = Field(description="the scenario's title in reports")
    description: str = Field("", description="what the scenario is, shown in reports")
    price_year: Annotated[str, Field(pattern=r"^\d{4}-\d{2}$")] = Field(
        description="financial year of all money, e.g. 2011-12")
    start_date: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")] = Field(
        "2010-11-01", description="calendar date of day 0 (selection), YYYY-MM-DD; shown in "
                                  "reports only")
    horizon_years: Annotated[float, Field(gt=0, le=50)] = Field(5.0, description="years "
                                                                "simulated from day 0")
    pre_period_months: Annotated[float, Field(ge=0, le=120)] = Field(
        24.0, description="months simulated before day 0, without IOM and without costs; "
                          "selection counts the convictions in it")
    discount_rate: Fraction = Field(0.035, description="annual discount rate: year k's costs "
                                                       "are multiplied by (1 + r)^-(k-1)")
    cohort: Cohort = Field(description="who is simulated")
    selection: Selection | None = Field(None, description="IOM selection at day 0 (none: "
                                                          "everyone present is selected)")
    offending: Offending = Field(description="offending and the offence types")
    justice: Justice = Field(description="arrest, courts, sentences, custody, supervision and "
                                         "recall")
    needs: dict[Need, NeedDynamics] = Field(default_factory=dict, description=(
        "how each need area resolves and relapses (areas not listed never change)"))
    services: dict[str, Service] = Field(default_factory=dict, description=(
        "services by name (lower-case names of your choice; see docs/scenarios.md for the "
        "shipped ones)"))
    iom: Iom = Field(default_factory=Iom, description="the IOM programme: costs, effects, "
                                                      "de-selection")
    exits: Exits = Field(default_factory=Exits, description="deaths and moves out of the area")
    economics: Economics = Field(default_factory=Economics, description="what counts as benefit")
    scale: Scale = Field(default_factory=Scale, description=(
        "scale knobs: an agency's costs or services' places times a factor"))
    limits: Limits = Field(default_factory=Limits, description="limits on the run's size")

    @property
    def meta(self) -> Any:
        """The loader's :class:`~iomsim.scenario.loader.ScenarioMeta` (file, provenance, hash)."""
        return self._meta

    @field_validator("horizon_years")
    @classmethod
    def _horizon(cls, value: float) -> float:
        if value < MIN_HORIZON_YEARS:
            raise ValueError(f"expected at least one month ({MIN_HORIZON_YEARS:.4g} years), got "
                             f"{value:g}: the survival curve is monthly and no outcome window "
                             "is shorter than 12 months, so a shorter horizon measures nothing")
        return value

    def paying_agencies(self) -> list[str]:
        """Every agency that pays for something in this scenario, in a fixed order."""
        iom = self.iom
        agencies = ["police", "courts", "prison", "probation"] \
            + [svc.agency for svc in self.services.values()] \
            + [m.agency or name for name, m in iom.offender_managers.items()] \
            + [a.agency for a in iom.case_conferences.attendees] \
            + list(iom.co_location_cost_per_offender_year) \
            + [iom.enforcement.agency, iom.pathway_referrals.agency]
        return list(dict.fromkeys(agencies))

    def _check_scale(self) -> None:
        agencies = self.paying_agencies()
        for agency in self.scale.agency_costs:
            if agency not in agencies:
                close = close_match(agency, agencies)
                hint = f"; did you mean {close!r}?" if close else ""
                raise error_at(f"scale.agency_costs.{agency}", f"no agency {agency!r} pays for "
                               f"anything in this scenario{hint} (agencies: "
                               f"{', '.join(agencies)})")
        if isinstance(self.scale.service_capacity, dict):
            limited = [n for n, svc in self.services.items() if svc.capacity_per_1000 is not None]
            for name in self.scale.service_capacity:
                if name in limited:
                    continue
                at = f"scale.service_capacity.{name}"
                if name in self.services:
                    raise error_at(at, f"service {name!r} has no capacity (its places are "
                                   f"unlimited); give services.{name}.capacity_per_1000 to "
                                   "limit them")
                raise error_at(at, f"no service named {name!r} (services with a capacity: "
                               f"{', '.join(limited) or 'none'})")

    @model_validator(mode="after")
    def _consistent(self) -> "Scenario":
        for name in self.services:
            try:
                _identifier(name)
            except ValueError as exc:
                raise error_at(f"services.{name}", f"service name: {exc}") from None
        self._check_scale()
        limit = self.limits.max_offenders
        if self.cohort.size is not None and self.cohort.size > limit:
            raise error_at("cohort.size", f"{self.cohort.size:,} offenders is above "
                           f"limits.max_offenders ({limit:,}); raise limits.max_offenders to "
                           "allow it")
        if self.cohort.offenders is not None and len(self.cohort.offenders) > limit:
            raise error_at("cohort.offenders", f"{len(self.cohort.offenders):,} offenders is "
                           f"above limits.max_offenders ({limit:,}); raise "
                           "limits.max_offenders to allow it")
        if self.cohort.profile is not None and self.selection is not None \
                and self.cohort.size is not None and self.selection.cohort_size > self.cohort.size:
            raise error_at("selection.cohort_size", f"{self.selection.cohort_size} is larger "
                           f"than cohort.size ({self.cohort.size}); expected at most the "
                           "cohort size")
        j = self.justice
        proven = sum(t.share * t.detection_probability
                     for t in self.offending.offence_types.values()) \
            * (j.charge_probability * j.conviction_probability + j.caution_probability)
        if 0 < proven < MIN_PROVEN_PER_OFFENCE:
            raise error_at("offending.offence_types", f"{proven:.3g} of offences end in a "
                           "caution or conviction (detection x (charge x conviction + "
                           f"caution)); expected at least {MIN_PROVEN_PER_OFFENCE:g}: OGRS "
                           "predicts proven reoffending, so offending is the proven rate "
                           f"divided by this, {1 / proven:,.0f} offences for each proven one, "
                           "beyond any recorded rate; a run's events grow with it")
        highest = highest_ogrs(self.cohort)
        v = self.cohort.profile.frailty_variance if self.cohort.profile is not None else 0.0
        if proven > 0 and highest is not None:
            # As the engine's baseline_hazard (iomsim.engine.model): two-year cumulative hazard
            # of a proven offence that makes P(proven within 2 years) = OGRS under gamma frailty.
            hazard = -math.log1p(-highest) if v <= 0 else ((1 - highest) ** -v - 1) / v
            per_year = hazard / 2 / proven
            if per_year > MAX_OFFENCES_PER_YEAR:
                at = "cohort.profile.frailty_variance" if v > 0 else "cohort"
                raise error_at(at, f"an offender with OGRS {highest:g} would commit "
                               f"{per_year:,.3g} offences a year (frailty variance {v:g}, "
                               f"{proven:.3g} of offences proven); expected at most "
                               f"{MAX_OFFENCES_PER_YEAR:,.0f}, about 27 a day, beyond any "
                               "recorded offending; each offence is simulated")
        problem = self.selection and unreachable_ogrs(self.selection.ogrs_min, highest)
        if problem:
            raise error_at("selection.ogrs_min", problem)
        return self


# The engine keeps OGRS inside (0, 1) by this margin (iomsim.engine.cohort).
OGRS_CEILING = 1 - 1e-6


def highest_ogrs(cohort: Cohort) -> float | None:
    """The highest OGRS anyone in the cohort can have at day 0 (OGRS does not change), when the
    scenario alone decides it (not for a CSV cohort, which is read later); else None."""
    if cohort.offenders is not None:
        return min(max(o.ogrs for o in cohort.offenders), OGRS_CEILING)
    if cohort.profile is not None:
        d = cohort.profile.ogrs
        top = d.value if d.distribution == "fixed" else d.high
        return None if top is None else min(top, OGRS_CEILING)
    return None


def unreachable_ogrs(ogrs_min: float, highest: float | None) -> str | None:
    """Why a selection.ogrs_min no offender can reach is refused (selection would pick nobody),
    or None when someone can reach it (or the scenario alone cannot tell)."""
    if highest is None or ogrs_min <= highest:
        return None
    return (f"{ogrs_min:g} is above the highest OGRS anyone in the cohort can have "
            f"({highest:g}), so selection would pick nobody; expected at most {highest:g}")
