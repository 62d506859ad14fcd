"""The scenario schema: what a YAML scenario may say, checked with pydantic.

Conventions: rates, probabilities, shares and the discount rate are fractions (0.19, never 19);
money is in pounds at the scenario's ``price_year``; durations are in days unless the name says
otherwise; rates are per year at liberty. Unknown keys are refused.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr,
                      field_validator, model_validator)

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

Fraction = Annotated[float, AfterValidator(_fraction)]
NonNegative = Annotated[float, AfterValidator(_non_negative)]
Positive = Annotated[float, AfterValidator(_positive)]
Money = Annotated[float, AfterValidator(_non_negative), at_most(MAX_MONEY, MONEY_REASON),
                  Field(json_schema_extra={"x-money": True})]
Days = Annotated[float, AfterValidator(_non_negative)]
RatePerYear = Annotated[float, AfterValidator(_non_negative),
                        at_most(MAX_RATE_PER_YEAR, RATE_REASON)]
Multiplier = Annotated[float, AfterValidator(_non_negative),
                       at_most(MAX_MULTIPLIER, MULTIPLIER_REASON)]
Frailty = Annotated[float, AfterValidator(_positive), at_most(MAX_FRAILTY, FRAILTY_REASON)]
Agency = Annotated[str, AfterValidator(_identifier)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_default=True)


def _check_shares(shares: dict[str, float], what: str, *, total: float | None = 1.0,
                  at: str | None = None) -> None:
    s = sum(shares.values())
    message = None
    if total is not None and not math.isclose(s, total, abs_tol=1e-6):
        message = f"{what} must sum to 1, they sum to {s:.6g}"
    if total is None and s > 1.0 + 1e-9:
        message = f"{what} must sum to at most 1, they sum to {s:.6g}"
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

    distribution: DistributionKind
    value: float | None = None
    mean: float | None = None
    sd: NonNegative | None = None
    low: float | None = None
    mode: float | None = None
    high: float | None = None

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

    meanlog: float | None = None
    sdlog: Positive | None = None
    shape: Positive | None = None
    scale: Positive | None = None
    alpha: Positive | None = None
    beta: Positive | None = None
    bounds: Literal["clip", "truncate", "rescale"] | None = None

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

    male_share: Fraction = 0.9
    age: Distribution
    ogrs: Distribution = Field(description="OGRS: probability of a proven reoffence within two "
                                           "years at liberty (a fraction)")
    previous_convictions: Distribution
    frailty_variance: Annotated[float, AfterValidator(_non_negative), at_most(
        MAX_FRAILTY_VARIANCE, "a gamma of variance 4 (shape 1/4) already puts most offenders "
        "near no offending and a few at tens of times the mean; beyond it, offenders with high "
        "OGRS get baseline hazards of thousands of offences a year")] = Field(
        0.0, description="variance of a gamma(mean 1) multiplier on each offender's offending "
                         "rate: variation beyond OGRS")
    needs: dict[Need, Fraction] = Field(default_factory=dict,
                                        description="prevalence of each OASys need area")
    need_correlation: Fraction = Field(0.0, description="correlation between need areas "
                                                        "(one latent factor, Gaussian copula)")
    ogrs_need_loading: Annotated[float, Field(ge=-1, le=1)] = Field(
        0.0, description="loading of OGRS on the latent need factor (Gaussian copula): above 0, "
                         "offenders with more needs tend to have higher OGRS")
    status: dict[Status, Fraction] = Field(description="share of offenders in each status at the "
                                                       "start; must sum to 1")
    custody_days_remaining: Distribution | None = None
    remand_days_remaining: Distribution | None = None
    licence_days_remaining: Distribution | None = None
    community_order_days_remaining: Distribution | None = None

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

    day: float
    event: Literal["release", "recall", "exit"]
    days: Days | None = Field(None, description="for recall: days in custody (default: drawn)")


class OffenderRecord(Strict):
    """One offender given explicitly, instead of drawn from a profile."""

    id: str
    sex: Literal["male", "female"] = "male"
    age: Annotated[float, AfterValidator(_positive)]
    ogrs: Fraction
    previous_convictions: NonNegative = 0
    frailty: Frailty = 1.0
    needs: list[Need] = Field(default_factory=list)
    status: Status = "unsupervised"
    status_days_remaining: Days = 0.0
    licence_days_after_release: Days | None = Field(None, description="licence length after "
                                                    "release from custody (default: a year or "
                                                    "the minimum supervision)")
    scheduled_events: list[ScheduledEvent] = Field(default_factory=list)


class Cohort(Strict):
    """Where offenders come from: a generated population, a CSV of records, or a list."""

    size: Annotated[int, Field(ge=1)] | None = None
    profile: Profile | None = None
    from_csv: str | None = Field(None, description="CSV of anonymised records, relative to "
                                                   "the scenario file's folder")
    allow_outside_folder: bool = Field(False, description="allow from_csv to name a file outside "
                                                          "the scenario's folder tree")
    offenders: list[OffenderRecord] | None = None

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
    ogrs_min: Fraction = 0.0
    min_needs: Annotated[int, Field(ge=0)] = 0
    min_convictions_pre_period: Annotated[int, Field(ge=0)] = 0
    statuses: list[Status] = Field(default_factory=lambda: list(STATUSES))
    rank_by: Literal["convictions_pre_period", "ogrs"] = "convictions_pre_period"


class OffenceType(Strict):
    share: Fraction = Field(description="share of offences of this type")
    detection_probability: Fraction
    crown_court_probability: Fraction = 0.0
    cost_of_crime: Money = Field(0.0, description="cost to victims and society per offence, "
                                                  "excluding the criminal justice response")
    police_investigation_cost: Money = Field(0.0, description="police cost per detected offence "
                                                              "beyond arrest and custody")


class Offending(Strict):
    offence_types: dict[str, OffenceType]
    release_multiplier: Multiplier = Field(1.0, description="offending rate multiplier in the "
                                                            "first release_window_days at liberty")
    release_window_days: Days = 0.0
    need_multipliers: dict[Need, Multiplier] = Field(
        default_factory=dict, description="offending rate multiplier while a need is active")

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
    court: Money = 0.0
    prosecution: Money = 0.0
    legal_aid: Money = 0.0


class CourtSentencing(Strict):
    custody_probability: Fraction
    community_order_probability: Fraction
    custody_days: Distribution
    delay_days: Distribution
    costs: CourtCosts = Field(default_factory=CourtCosts)

    @model_validator(mode="after")
    def _shares(self) -> "CourtSentencing":
        _check_shares({"custody": self.custody_probability,
                       "community_order": self.community_order_probability},
                      "custody_probability + community_order_probability", total=None)
        return self


class Recall(Strict):
    on_charge_probability: Fraction = Field(0.0, description="chance a charge on licence recalls")
    fixed_term_share: Fraction = 0.5
    fixed_term_days_short_sentence: Days = 14.0
    fixed_term_days_long_sentence: Days = 28.0
    short_sentence_days: Days = Field(365.0, description="sentences shorter than this get the "
                                                         "short fixed term")
    standard_days: Distribution
    police_cost: Money = 0.0
    probation_cost: Money = 0.0


class Justice(Strict):
    arrest_cost: Money = Field(0.0, description="police arrest and custody, per detection")
    charge_probability: Fraction
    caution_probability: Fraction = 0.0
    remand_probability: Fraction = 0.0
    conviction_probability: Fraction
    extra_offences_per_conviction: Annotated[float, AfterValidator(_non_negative), at_most(
        100, "a hundred offences taken into consideration at one appearance is beyond any "
        "recorded case")] = Field(
        0.0, description="mean of a Poisson count of further offences dealt with at the same "
                         "appearance (taken into consideration)")
    magistrates: CourtSentencing
    crown: CourtSentencing
    release_fraction: Fraction = 0.5
    minimum_supervision_after_release_days: Days = Field(
        0.0, description="licence plus post-sentence supervision lasts at least this long")
    community_order_days: Distribution
    licence_breach_rate_per_year: RatePerYear = 0.0
    community_order_breach_rate_per_year: RatePerYear = 0.0
    breach_custody_probability: Fraction = 0.0
    recall: Recall
    prison_cost_per_day: Money
    licence_cost_per_year: Money = 0.0
    community_order_cost_per_year: Money = 0.0
    pre_sentence_report_cost: Money = 0.0

    @model_validator(mode="after")
    def _outcomes(self) -> "Justice":
        _check_shares({"charge": self.charge_probability, "caution": self.caution_probability},
                      "charge_probability + caution_probability", total=None)
        return self


class Exits(Strict):
    death_rate_per_year: RatePerYear = 0.0
    move_away_rate_per_year: RatePerYear = 0.0


class NeedDynamics(Strict):
    resolution_rate_per_year: RatePerYear = 0.0
    relapse_rate_per_year: RatePerYear = 0.0


class Service(Strict):
    """A service offenders use while eligible, paid by one agency.

    Eligible while the offender's status is in ``statuses``, any of ``needs_any`` is active (or
    always, when empty) and, if given, within ``within_days_of_release`` of release. Whether an
    offender uses it is drawn once per offender (``uptake``); within a ``group`` the options are
    exclusive and their uptakes are shares. Cost accrues by duration (``cost_per_day``) and by
    expected contacts (``contacts_per_year`` x ``cost_per_contact``).
    """

    agency: Agency
    item: str | None = None
    statuses: list[Status] = Field(default_factory=lambda: list(AT_LIBERTY))
    needs_any: list[Need] = Field(default_factory=list)
    within_days_of_release: Days | None = None
    uptake: Fraction = 1.0
    iom_uptake: Fraction | None = Field(None, description="uptake while on IOM (pathway "
                                                          "referral); default: uptake")
    group: str | None = None
    cost_per_day: Money = 0.0
    contacts_per_year: RatePerYear = 0.0
    cost_per_contact: Money = 0.0
    capacity_per_1000: Positive | None = Field(None, description="places per 1,000 offenders "
                                                                 "simulated; none = unlimited")
    need_resolution_multiplier: dict[Need, Multiplier] = Field(default_factory=dict)


class OffenderManager(Strict):
    agency: Agency
    share: Fraction = Field(description="share of IOM offenders managed by this role")
    annual_cost: Money = Field(description="salary and on-costs of one offender manager a year")
    caseload: Annotated[float, AfterValidator(at_least(
        1, "an offender manager's salary is divided by the caseload, so below one offender it "
        "is multiplied without limit"))]


class Attendee(Strict):
    agency: Agency
    hours: Annotated[float, AfterValidator(_non_negative), at_most(
        24, "a case conference lasts no more than a day")]
    hourly_cost: Money


class CaseConferences(Strict):
    per_year: RatePerYear = 0.0
    offenders_per_conference: Annotated[float, AfterValidator(at_least(
        1, "a conference's cost is divided among the offenders it discusses, so below one it "
        "is multiplied without limit"))] = 1.0
    attendees: list[Attendee] = Field(default_factory=list)


class Enforcement(Strict):
    cost_per_offender_year: Money = 0.0
    agency: Agency = "police"
    detection_multiplier: Multiplier = 1.0
    recall_multiplier: Multiplier = 1.0


class PathwayReferrals(Strict):
    cost_per_referral: Money = 0.0
    agency: Agency = "vcs"
    need_resolution_multiplier: Multiplier = 1.0


class IomEffects(Strict):
    offending_multiplier: Multiplier = Field(1.0, description="offending rate multiplier for "
                                                              "responders while on IOM")
    offending_multiplier_sd: Annotated[float, AfterValidator(_non_negative), at_most(
        10, "a lognormal spread of 10 puts responders' multipliers from near 0 to far above "
        "any effect; the multiplier itself is at most 100")] = Field(0.0, description="spread of the multiplier "
                                                                  "among responders (lognormal)")
    responder_share: Fraction = 1.0
    persist_days_after_deselection: Days = 0.0


class Iom(Strict):
    max_duration_days: Positive | None = None
    deselect_after_offence_free_days: Positive | None = None
    offender_managers: list[OffenderManager] = Field(default_factory=list)
    case_conferences: CaseConferences = Field(default_factory=CaseConferences)
    co_location_cost_per_offender_year: dict[Agency, Money] = Field(default_factory=dict)
    enforcement: Enforcement = Field(default_factory=Enforcement)
    pathway_referrals: PathwayReferrals = Field(default_factory=PathwayReferrals)
    effects: IomEffects = Field(default_factory=IomEffects)
    places_per_1000: Positive | None = Field(
        None, description="offender-manager caseload capacity: IOM places per 1,000 selected "
                          "offenders; those beyond it wait for a place (none = no limit)")

    @model_validator(mode="after")
    def _manager_shares(self) -> "Iom":
        if self.offender_managers:
            _check_shares({f"{i}": m.share for i, m in enumerate(self.offender_managers)},
                          "offender manager shares", at="offender_managers")
        return self


class Economics(Strict):
    benefit_agencies: list[Agency] = Field(
        default_factory=lambda: ["police", "courts", "prison", "probation"],
        description="agencies whose averted costs count as benefit (criminal justice)")
    include_victims_in_benefit: bool = True


class Limits(Strict):
    max_offenders: Annotated[int, Field(ge=1)] = 1_000_000


class Scenario(Strict):
    """A whole scenario, after ``extends:`` and overrides are resolved."""

    _meta: Any = PrivateAttr(default=None)

    name: str
    description: str = ""
    price_year: Annotated[str, Field(pattern=r"^\d{4}-\d{2}$")] = Field(
        description="financial year of all money, e.g. 2011-12")
    start_date: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")] = "2010-11-01"
    horizon_years: Annotated[float, Field(gt=0, le=50)] = Field(5.0, description="years "
                                                                "simulated from day 0")
    pre_period_months: Annotated[float, Field(ge=0, le=120)] = 24.0
    discount_rate: Fraction = 0.035
    cohort: Cohort
    selection: Selection | None = None
    offending: Offending
    justice: Justice
    needs: dict[Need, NeedDynamics] = Field(default_factory=dict)
    services: dict[str, Service] = Field(default_factory=dict)
    iom: Iom = Field(default_factory=Iom)
    exits: Exits = Field(default_factory=Exits)
    economics: Economics = Field(default_factory=Economics)
    limits: Limits = Field(default_factory=Limits)

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

    @model_validator(mode="after")
    def _consistent(self) -> "Scenario":
        for name in self.services:
            try:
                _identifier(name)
            except ValueError as exc:
                raise error_at(f"services.{name}", f"service name: {exc}") from None
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
