"""A simulated ClinicalTrials.gov registry whose causal mechanisms are known.

It writes study records in exactly the API v2 JSON schema (key names, value types: measurement
values, spreads, denominators and p-values are strings; enums such as ``EXPERIMENTAL``,
``PHASE2``, ``LEAST_SQUARES_MEAN``; dates ``YYYY-MM`` or ``YYYY-MM-DD``), so every later stage
treats simulated and real records alike, and it records the ground truth that generated them.

Generative model (the project's "known ground-truth mechanisms"; see docs/simulated_registry.md)
-----------------------------------------------------------------------------------------------
World (``build_world(seed)``): 12 conditions, each with 3-4 endpoints. An endpoint is either
``continuous`` (mean change from baseline, e.g. HbA1c, SBP, DAS28-CRP) or ``responder`` (percent
of participants responding, e.g. ACR20, PASI 75) and has a better direction (``higher``/``lower``).
About 35 invented drugs in 34 mechanism classes (SGLT2 inhibitor, IL-17A inhibitor, ...), each
with target conditions, a route, a dose unit (mg, mcg, g, mg/kg, mg/m2, cells/kg), a schedule,
a ladder of doses and, for every endpoint of every target condition, Emax parameters.

Mean of an arm given drug d at dose D, endpoint j, week t, region r, sex s, age group a:

    D_eff  = D * exposure[r] * exposure[a]        (fixed doses: mg, mcg, g; weight/BSA-based doses
                                                   mg/kg, mg/m2, cells/kg are not scaled)
    drug   = Emax[d,j] * D_eff^h / (ED50[d,j]^h + D_eff^h)
             * efficacy[r] * efficacy[s] * efficacy[a] * (1 - exp(-t / tau[d]))
    pbo    = E0[j] * placebo[r] * placebo[s] * placebo[a] * placebo_factor[study]
             * (1 - exp(-t / tau_placebo[j]))
    continuous: mean = pbo + drug                         (E0, Emax in the endpoint's units)
    responder:  rate = 100 * expit(logit(clip(pbo)) + drug) (E0 a rate, Emax on the log-odds scale)

A placebo arm has drug = 0. A study's arm mean is the enrollment-weighted mixture of these means
over its regions (share of participants per region) and sexes (female share). ``placebo_factor``
is a per-study multiplicative shift of the placebo response, exp(N(0, 0.15^2)), recorded in the
truth. Emax of a drug is correlated across the endpoints of a condition (a shared drug potency
times an endpoint scale, with a small endpoint-specific deviation); the sampling errors of an
arm's endpoints are correlated too (``endpoint_correlations[condition]``: corr = l_i * l_j from
endpoint loadings l). Posted arm means are true means plus noise with SE = sd / sqrt(n); responder
counts are true rate * n plus binomial noise. Phase, sponsor and start year have NO direct
causal effect: they act only through the design (doses, arm sizes, durations, regions).

Designs: dose-ranging (placebo + 3-4 doses of one drug, sometimes an active reference; ~32%),
placebo-controlled 2-arm, active-comparator head-to-head, multi-arm (placebo + two drugs or two
doses + a reference). Analyses compare each group against the control group (placebo, else the
active comparator) with z tests computed from the posted (rounded) group values: continuous -
difference of means, SE from the posted spreads and denominators; responder - risk difference
(unpooled SE) or odds ratio (Wald on the log odds ratio). p = 2 * (1 - Phi(|z|)).

Ground truth (``truth_document``): ``{"format_version", "registry_date", "key_format", "world",
"studies"}`` where ``studies[nct_id] = {"design", "region", "region_weights", "population":
{"age_group", "sex", "female_share"}, "placebo_factor", "phases", "arms": {arm_label: {"drug"
(drug id or null for placebo), "drug_name", "role" ("placebo"|"experimental"|"active_comparator"),
"dose", "dose_unit", "dose_mg" (null unless the unit is a mass), "frequency", "route",
"outcomes": {outcome_key: true_mean}}}, "outcomes": {outcome_key: {"endpoint", "weeks", "kind",
"better", "type", "scale" (per-participant SD: the endpoint's sd, or 100*sqrt(p(1-p)) at the
placebo rate p clipped to [0.1, 0.9] for responders), "value_scale" ("mean_change"|"percent")}}}``. ``outcome_key`` is ``outcome_measure_title + " | " + time_frame``,
exactly as posted in the record (``protocolSection.outcomesModule`` and, with results,
``resultsSection.outcomeMeasuresModule``). ``true_mean`` is on the endpoint's natural scale:
mean change (continuous) or percent responders (responder), also for measures posted as
COUNT_OF_PARTICIPANTS. ``true_mean(world, ...)`` recomputes any cell, also counterfactual ones.

Doses are per administration; the arm label and/or description states dose, unit, route and
schedule in varied free text for ~98% of arms (the rest say "low dose" etc.; truth has the dose).

The code is split by concern (this package's modules): ``catalogue`` (the data), ``world`` (the
world and ``dose_mg``), ``text`` (free-text variety and formatting), ``plan`` (study planning),
``study`` with its ``protocol`` and ``results`` mixins (one record), ``iterate`` (the public API).
Every name importable from ``deepimagine.registry.simulate`` before the split still is.
"""
from __future__ import annotations

# The public import paths of the single-module version, kept: ``from deepimagine.registry.simulate import ...``.
from ...core.mechanism import (FIXED_DOSE_UNITS, MG_PER_UNIT, _expit, _logit, _mixture,  # noqa: F401
                               _mixture_mean, true_mean)
from .catalogue import *  # noqa: F401,F403  (the catalogue's constants)
from .iterate import ground_truth, iter_studies, make_study, simulate_to_files, truth_document  # noqa: F401
from .plan import CONDITION_WEIGHTS  # noqa: F401
from .text import (BACKGROUND, BASELINE_UNIT, CONDITION_AGE, CONT_TIMEFRAMES, CONT_TITLES,  # noqa: F401
                   COUNT_TITLE, DOSE_STYLES, DROP_REASONS, EXCLUSION_COMMON, FACILITY_STYLES, FORM, FREQ_ABBR,
                   FREQ_TEXT, INCLUSION, MONTHS, PCT_TITLES, PLACEBO_FORM, RESP_TIMEFRAMES, RESP_TITLES,
                   ROUTE_ABBR, ROUTE_TEXT, nct_id)
from .world import build_world, dose_mg  # noqa: F401
