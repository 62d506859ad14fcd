"""A scenario compiled for the event loop: flat lists, precomputed constants, cost items.

Nothing here draws random numbers; it turns validated scenario values into the numbers the
offender process uses, once per run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from iomsim.engine.distributions import QuantileTable
from iomsim.scenario.schema import AT_LIBERTY, NEEDS, VICTIMS, Scenario

DAYS_PER_YEAR = 365.25
TWO_YEARS = 2 * DAYS_PER_YEAR


@dataclass(frozen=True)
class CostItem:
    agency: str
    item: str
    iom_programme: bool = False


class ItemRegistry:
    """Every cost item a scenario can produce, in a fixed order (the ledger's columns)."""

    def __init__(self) -> None:
        self.items: list[CostItem] = []
        self._index: dict[CostItem, int] = {}

    def add(self, agency: str, item: str, iom_programme: bool = False) -> int:
        key = CostItem(agency, item, iom_programme)
        if key not in self._index:
            self._index[key] = len(self.items)
            self.items.append(key)
        return self._index[key]

    def __len__(self) -> int:
        return len(self.items)


@dataclass
class ServiceSpec:
    name: str
    index: int
    item: int
    statuses: frozenset[str]
    needs_any: tuple[int, ...]
    within_days_of_release: float | None
    uptake: float
    iom_uptake: float
    group: str | None
    per_day: float
    capacity_per_1000: float | None
    resolution_multiplier: dict[int, float]


@dataclass(frozen=True)
class CourtSpec:
    """What one court costs per appearance and how it sentences."""

    court_cost: float
    prosecution_cost: float
    legal_aid_cost: float
    custody_probability: float
    community_order_probability: float


@dataclass(frozen=True)
class SelectionRules:
    """Who is picked for IOM at day 0 (see :func:`iomsim.engine.measures.select_cohort`)."""

    ogrs_min: float
    min_needs: int
    min_convictions_pre_period: int
    statuses: tuple[str, ...]
    rank_by: str  # "ogrs", "convictions_pre_period" or "recent_convictions"
    cohort_size: int | None
    recency_half_life_days: float = 182.625
    ogrs_at_registration: bool = False
    age_at_first_sanction: float = 17.0


@dataclass
class Model:
    """Everything the offender process needs, compiled from a :class:`Scenario`."""

    scenario: Scenario
    items: ItemRegistry
    horizon_days: float
    pre_days: float
    n_years: int
    # offending
    offence_names: list[str]
    offence_cum_shares: list[float]
    offence_detection: list[float]
    offence_crown: list[float]
    offence_victim_cost: list[float]
    offence_investigation_cost: list[float]
    p_proven_per_offence: float
    release_multiplier: float
    release_window: float
    release_normaliser: float
    need_multiplier: list[float]
    offending_rate_multiplier: float
    # offending phases: the offending multiplier of the active and the quiet phase (a desisted
    # offender's is 0), and the rates per day of leaving them; without phases, everyone stays
    # active at multiplier 1
    phase_multiplier_active: float
    phase_multiplier_quiet: float
    phase_leave_active: float
    phase_leave_quiet: float
    phase_active_share: float
    # desistance: hazard per day at age 30 and the change of its log per year of age
    desistance_rate_at_30: float
    desistance_age_slope: float
    # needs dynamics
    resolution_rate: list[float]
    relapse_rate: list[float]
    # justice
    custody_tables: dict[str, QuantileTable]
    delay_tables: dict[str, QuantileTable]
    order_table: QuantileTable
    standard_recall_table: QuantileTable
    # costs (per day or per event), item indices
    item_arrest: int
    item_investigation: int
    item_recall_police: int
    item_recall_probation: int
    item_psr: int
    item_court: dict[str, int]
    item_prosecution: int
    item_legal_aid: int
    item_prison: dict[str, int]
    item_licence: int
    item_order: int
    item_victims: list[int]
    prison_per_day: float
    licence_per_day: float
    order_per_day: float
    services: list[ServiceSpec]
    groups: dict[str, list[int]]
    # IOM
    om_roles: list[tuple[float, int, float]]  # (cumulative share, item, cost per day)
    iom_daily: list[tuple[int, float]]  # (item, cost per day) while on IOM, every offender
    item_referral: int
    referral_cost: float
    exit_rate_custody: float
    exit_rate_liberty: float
    death_share: float
    # criminal justice: per event costs and probabilities
    arrest_cost: float
    charge_probability: float
    caution_probability: float
    remand_probability: float
    conviction_probability: float
    extra_offences_per_conviction: float
    pre_sentence_report_cost: float
    release_fraction: float
    minimum_supervision_days: float
    breach_custody_probability: float
    courts: dict[str, CourtSpec]
    recall_on_charge_probability: float
    recall_police_cost: float
    recall_probation_cost: float
    fixed_term_recall_share: float
    fixed_term_days_short_sentence: float
    fixed_term_days_long_sentence: float
    short_sentence_days: float
    # IOM (0 days: no such limit)
    iom_max_duration_days: float
    iom_deselect_days: float
    iom_persist_half_life_days: float
    iom_responder_share: float
    iom_offending_multiplier: float
    iom_offending_multiplier_sd: float  # offending_multiplier_cv x offending_multiplier
    iom_places_per_1000: float | None
    # the population and the selection at day 0
    frailty_variance: float
    selection: SelectionRules | None
    benefit_agencies: frozenset[str] = field(default_factory=frozenset)
    # derived in __post_init__
    phase_multiplier: tuple[float, float, float] = (1.0, 1.0, 0.0)  # by phase: active, quiet, desisted
    phase_leave_rate: tuple[float, float] = (0.0, 0.0)  # by phase: active, quiet
    offence_shares: list[float] = field(default_factory=list)
    mean_detection: float = 0.0
    detection_iom: list[float] = field(default_factory=list)
    mean_detection_iom: float = 0.0
    licence_breach_rate: float = 0.0
    order_breach_rate: float = 0.0
    recall_multiplier: float = 1.0
    pathway_multiplier: float = 1.0
    resolution_boosts: list[list[tuple[int, float]]] = field(default_factory=list)
    windows_after_release: list[float] = field(default_factory=list)
    # Lookup tables over the discrete state (bit i of a service mask is service i; bit j of a
    # need mask is need area j), and caches filled as states are met: the per-event work is a
    # few dictionary lookups instead of loops over services and needs.
    need_factor: list[float] = field(default_factory=list)  # need mask -> offending multiplier
    services_for_needs: list[int] = field(default_factory=list)  # need mask -> services open
    services_for_status: dict[str, int] = field(default_factory=dict)
    service_windows: list[tuple[float, int]] = field(default_factory=list)  # (days, services)
    boosting_services: int = 0  # services that speed the resolution of some need
    costed_services: int = 0  # services with a daily cost
    cost_cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        s = self.scenario
        self.phase_multiplier = (self.phase_multiplier_active, self.phase_multiplier_quiet, 0.0)
        self.phase_leave_rate = (self.phase_leave_active, self.phase_leave_quiet)
        total = sum(t.share for t in s.offending.offence_types.values())
        self.offence_shares = [t.share / total for t in s.offending.offence_types.values()]
        self.mean_detection = sum(a * d for a, d in zip(self.offence_shares, self.offence_detection))
        mult = s.iom.enforcement.detection_multiplier
        self.detection_iom = [min(1.0, d * mult) for d in self.offence_detection]
        self.mean_detection_iom = sum(a * d for a, d in zip(self.offence_shares, self.detection_iom))
        self.licence_breach_rate = s.justice.licence_breach_rate_per_year / DAYS_PER_YEAR
        self.order_breach_rate = s.justice.community_order_breach_rate_per_year / DAYS_PER_YEAR
        self.recall_multiplier = s.iom.enforcement.recall_multiplier
        self.pathway_multiplier = s.iom.pathway_referrals.need_resolution_multiplier
        self.resolution_boosts = [[(svc.index, svc.resolution_multiplier[j]) for svc in self.services
                                   if j in svc.resolution_multiplier] for j in range(len(NEEDS))]
        windows = {self.release_window} | {svc.within_days_of_release for svc in self.services
                                            if svc.within_days_of_release is not None}
        self.windows_after_release = sorted(w for w in windows if w > 0)
        self._build_state_tables()

    def _build_state_tables(self) -> None:
        n_needs = len(NEEDS)
        self.need_factor = []
        self.services_for_needs = []
        for mask in range(1 << n_needs):
            factor = 1.0
            for j in range(n_needs):  # in index order, as the product was always taken
                if mask >> j & 1:
                    factor *= self.need_multiplier[j]
            self.need_factor.append(factor)
            self.services_for_needs.append(sum(
                1 << svc.index for svc in self.services
                if not svc.needs_any or any(mask >> j & 1 for j in svc.needs_any)))
        statuses = {st for svc in self.services for st in svc.statuses}
        self.services_for_status = {st: sum(1 << svc.index for svc in self.services
                                            if st in svc.statuses) for st in statuses}
        windows: dict[float, int] = {}
        for svc in self.services:
            if svc.within_days_of_release is not None:
                windows[svc.within_days_of_release] = (
                    windows.get(svc.within_days_of_release, 0) | 1 << svc.index)
        self.service_windows = sorted(windows.items())
        self.boosting_services = sum(1 << i for boosts in self.resolution_boosts for i, _ in boosts)
        self.costed_services = sum(1 << svc.index for svc in self.services if svc.per_day > 0)
        self.cost_cache = {}


def baseline_hazard(ogrs: float, frailty_variance: float) -> float:
    """Two-year cumulative hazard of a proven reoffence that makes P(proven within 2y) = OGRS.

    With gamma frailty (mean 1, variance v) the population with this OGRS reoffends with
    probability 1 - (1 + v*H)^(-1/v); solving for H gives ((1 - OGRS)^(-v) - 1) / v, which tends
    to -log(1 - OGRS) as v -> 0.
    """
    if frailty_variance <= 0:
        return -math.log1p(-ogrs)
    return ((1.0 - ogrs) ** (-frailty_variance) - 1.0) / frailty_variance


def phase_parameters(share: float, ratio: float, mean_active_days: float
                     ) -> tuple[tuple[float, float, float], tuple[float, float]]:
    """The phases' offending multipliers (active, quiet, desisted) and leaving rates per day
    (active, quiet): quiet offends at 1 / (share x ratio + 1 - share), active ``ratio`` times
    that, so that their mean over the stationary distribution (share, 1 - share) is 1."""
    quiet = 1.0 / (share * ratio + 1.0 - share)
    leave_active = 1.0 / mean_active_days
    leave_quiet = leave_active * share / (1.0 - share)
    return (ratio * quiet, quiet, 0.0), (leave_active, leave_quiet)


def _phase_fields(off) -> dict:
    if off.phases is None:
        multipliers, leave, share = (1.0, 1.0, 0.0), (0.0, 0.0), 1.0
    else:
        p = off.phases
        multipliers, leave = phase_parameters(p.active_share, p.active_rate_ratio,
                                              p.mean_active_days)
        share = p.active_share
    d = off.desistance
    return dict(phase_multiplier_active=multipliers[0], phase_multiplier_quiet=multipliers[1],
                phase_leave_active=leave[0], phase_leave_quiet=leave[1], phase_active_share=share,
                desistance_rate_at_30=d.annual_rate_at_age_30 / DAYS_PER_YEAR if d else 0.0,
                desistance_age_slope=d.age_slope if d else 0.0)


def desistance_rate(model: "Model", age: float) -> float:
    """Hazard per day of desisting at ``age`` (years, at the start of the simulation)."""
    if model.desistance_rate_at_30 <= 0.0:
        return 0.0
    return model.desistance_rate_at_30 * math.exp(model.desistance_age_slope * (age - 30.0))


def compile_model(scenario: Scenario) -> Model:
    s = scenario
    items = ItemRegistry()
    j = s.justice
    off = s.offending
    names = list(off.offence_types)
    shares = [off.offence_types[k].share for k in names]
    total = sum(shares)
    cum, acc = [], 0.0
    for x in shares:
        acc += x / total
        cum.append(acc)
    cum[-1] = 1.0
    detection = [off.offence_types[k].detection_probability for k in names]
    p_conv_given_detect = j.charge_probability * j.conviction_probability + j.caution_probability
    p_proven = sum(sh / total * d for sh, d in zip(shares, detection)) * p_conv_given_detect
    window = min(off.release_window_days, TWO_YEARS)
    # Scale knobs (scale.agency_costs): each cost times its paying agency's multiplier.
    cost_k = s.scale.agency_cost
    normaliser = TWO_YEARS + (off.release_multiplier - 1.0) * window

    item_arrest = items.add("police", "arrest_and_custody")
    item_investigation = items.add("police", "investigation")
    item_recall_police = items.add("police", "recall_arrest")
    item_court = {"magistrates": items.add("courts", "magistrates_court"),
                  "crown": items.add("courts", "crown_court")}
    item_prosecution = items.add("courts", "prosecution")
    item_legal_aid = items.add("courts", "legal_aid")
    item_psr = items.add("probation", "pre_sentence_report")
    item_licence = items.add("probation", "licence_supervision")
    item_order = items.add("probation", "community_order_supervision")
    item_recall_probation = items.add("probation", "recall_work")
    item_prison = {"sentence": items.add("prison", "custody_sentenced"),
                   "remand": items.add("prison", "custody_remand"),
                   "recall": items.add("prison", "custody_recall")}

    services: list[ServiceSpec] = []
    groups: dict[str, list[int]] = {}
    for i, (name, svc) in enumerate(s.services.items()):
        per_day = svc.cost_per_day + svc.contacts_per_year * svc.cost_per_contact / DAYS_PER_YEAR
        per_day *= cost_k(svc.agency)
        capacity = svc.capacity_per_1000
        if capacity is not None:
            capacity *= s.scale.capacity(name)
        spec = ServiceSpec(
            name=name, index=i, item=items.add(svc.agency, svc.item or name),
            statuses=frozenset(svc.statuses), needs_any=tuple(NEEDS.index(n) for n in svc.needs_any),
            within_days_of_release=svc.within_days_of_release, uptake=svc.uptake,
            iom_uptake=svc.iom_uptake if svc.iom_uptake is not None else svc.uptake,
            group=svc.group, per_day=per_day, capacity_per_1000=capacity,
            resolution_multiplier={NEEDS.index(k): v for k, v in svc.need_resolution_multiplier.items()},
        )
        services.append(spec)
        if svc.group:
            groups.setdefault(svc.group, []).append(i)

    iom = s.iom
    om_roles, acc = [], 0.0
    for m in iom.offender_managers.values():
        acc += m.share
        om_roles.append((acc, items.add(m.agency, "iom_offender_manager", True),
                         cost_k(m.agency) * m.annual_cost / m.caseload / DAYS_PER_YEAR))
    if om_roles:
        om_roles[-1] = (1.0, om_roles[-1][1], om_roles[-1][2])
    iom_daily: list[tuple[int, float]] = []
    cc = iom.case_conferences
    for a in cc.attendees:
        per_day = (cost_k(a.agency) * cc.per_year * a.hours * a.hourly_cost
                   / cc.offenders_per_conference / DAYS_PER_YEAR)
        iom_daily.append((items.add(a.agency, "iom_case_conferences", True), per_day))
    for agency, cost in iom.co_location_cost_per_offender_year.items():
        iom_daily.append((items.add(agency, "iom_co_location", True),
                          cost_k(agency) * cost / DAYS_PER_YEAR))
    if iom.enforcement.cost_per_offender_year > 0:
        iom_daily.append((items.add(iom.enforcement.agency, "iom_enforcement", True),
                          cost_k(iom.enforcement.agency) * iom.enforcement.cost_per_offender_year
                          / DAYS_PER_YEAR))
    item_referral = items.add(iom.pathway_referrals.agency, "iom_pathway_referrals", True)
    item_victims = [items.add(VICTIMS, k) for k in names]

    death = s.exits.death_rate_per_year / DAYS_PER_YEAR
    move = s.exits.move_away_rate_per_year / DAYS_PER_YEAR
    return Model(
        scenario=s, items=items, horizon_days=s.horizon_years * DAYS_PER_YEAR,
        pre_days=s.pre_period_months / 12.0 * DAYS_PER_YEAR,
        n_years=int(math.ceil(s.horizon_years - 1e-9)),
        offence_names=names, offence_cum_shares=cum, offence_detection=detection,
        offence_crown=[off.offence_types[k].crown_court_probability for k in names],
        offence_victim_cost=[off.offence_types[k].cost_of_crime for k in names],
        offence_investigation_cost=[cost_k("police") * off.offence_types[n].police_investigation_cost
                                    for n in names],
        p_proven_per_offence=p_proven, release_multiplier=off.release_multiplier,
        release_window=off.release_window_days, release_normaliser=normaliser,
        need_multiplier=[off.need_multipliers.get(n, 1.0) for n in NEEDS],
        offending_rate_multiplier=off.rate_multiplier,
        **_phase_fields(off),
        resolution_rate=[s.needs[n].resolution_rate_per_year / DAYS_PER_YEAR if n in s.needs else 0.0
                         for n in NEEDS],
        relapse_rate=[s.needs[n].relapse_rate_per_year / DAYS_PER_YEAR if n in s.needs else 0.0
                      for n in NEEDS],
        custody_tables={"magistrates": QuantileTable(j.magistrates.custody_days),
                        "crown": QuantileTable(j.crown.custody_days)},
        delay_tables={"magistrates": QuantileTable(j.magistrates.delay_days),
                      "crown": QuantileTable(j.crown.delay_days)},
        order_table=QuantileTable(j.community_order_days),
        standard_recall_table=QuantileTable(j.recall.standard_days),
        item_arrest=item_arrest, item_investigation=item_investigation,
        item_recall_police=item_recall_police, item_recall_probation=item_recall_probation,
        item_psr=item_psr, item_court=item_court, item_prosecution=item_prosecution,
        item_legal_aid=item_legal_aid, item_prison=item_prison, item_licence=item_licence,
        item_order=item_order, item_victims=item_victims,
        prison_per_day=cost_k("prison") * j.prison_cost_per_day,
        licence_per_day=cost_k("probation") * j.licence_cost_per_year / DAYS_PER_YEAR,
        order_per_day=cost_k("probation") * j.community_order_cost_per_year / DAYS_PER_YEAR,
        services=services, groups=groups, om_roles=om_roles, iom_daily=iom_daily,
        item_referral=item_referral,
        referral_cost=cost_k(iom.pathway_referrals.agency) * iom.pathway_referrals.cost_per_referral,
        exit_rate_custody=death, exit_rate_liberty=death + move,
        death_share=(death / (death + move)) if death + move > 0 else 1.0,
        arrest_cost=cost_k("police") * j.arrest_cost, charge_probability=j.charge_probability,
        caution_probability=j.caution_probability, remand_probability=j.remand_probability,
        conviction_probability=j.conviction_probability,
        extra_offences_per_conviction=j.extra_offences_per_conviction,
        pre_sentence_report_cost=cost_k("probation") * j.pre_sentence_report_cost,
        release_fraction=j.release_fraction,
        minimum_supervision_days=j.minimum_supervision_after_release_days,
        breach_custody_probability=j.breach_custody_probability,
        courts={name: CourtSpec(court_cost=cost_k("courts") * c.costs.court,
                                prosecution_cost=cost_k("courts") * c.costs.prosecution,
                                legal_aid_cost=cost_k("courts") * c.costs.legal_aid,
                                custody_probability=c.custody_probability,
                                community_order_probability=c.community_order_probability)
                for name, c in (("magistrates", j.magistrates), ("crown", j.crown))},
        recall_on_charge_probability=j.recall.on_charge_probability,
        recall_police_cost=cost_k("police") * j.recall.police_cost,
        recall_probation_cost=cost_k("probation") * j.recall.probation_cost,
        fixed_term_recall_share=j.recall.fixed_term_share,
        fixed_term_days_short_sentence=j.recall.fixed_term_days_short_sentence,
        fixed_term_days_long_sentence=j.recall.fixed_term_days_long_sentence,
        short_sentence_days=j.recall.short_sentence_days,
        iom_max_duration_days=iom.max_duration_days or 0.0,
        iom_deselect_days=iom.deselect_after_offence_free_days or 0.0,
        iom_persist_half_life_days=iom.effects.persistence_half_life_days,
        iom_responder_share=iom.effects.responder_share,
        iom_offending_multiplier=iom.effects.offending_multiplier,
        iom_offending_multiplier_sd=(iom.effects.offending_multiplier_cv
                                     * iom.effects.offending_multiplier),
        iom_places_per_1000=iom.places_per_1000,
        frailty_variance=s.cohort.profile.frailty_variance if s.cohort.profile else 0.0,
        selection=None if s.selection is None else SelectionRules(
            ogrs_min=s.selection.ogrs_min, min_needs=s.selection.min_needs,
            min_convictions_pre_period=s.selection.min_convictions_pre_period,
            statuses=tuple(s.selection.statuses), rank_by=s.selection.rank_by,
            cohort_size=s.selection.cohort_size,
            recency_half_life_days=s.selection.recency_half_life_days,
            ogrs_at_registration=s.selection.ogrs_at_registration,
            age_at_first_sanction=s.selection.age_at_first_sanction),
        benefit_agencies=frozenset(s.economics.benefit_agencies),
    )


LIBERTY = frozenset(AT_LIBERTY)
