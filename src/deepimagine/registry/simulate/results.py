"""The results section of a simulated study (outcome measures, analyses, participant flow, baseline,
adverse events): a mixin of ``study._Study``, drawing from the same per-study generator in the
same order as before the split."""
from __future__ import annotations

import math
from typing import Any, Optional

from .catalogue import ORGAN_OF, OTHER_EVENTS, SERIOUS_EVENTS, Z95
from .text import (_apportion, _fmt, _fmt_p, _num, _p_two_sided, BASELINE_UNIT, CONDITION_AGE, DROP_REASONS,
                   MONTHS)

class _Results:
    """Results-section builders of ``_Study`` (uses its planned arms, outcomes and ``self.rng``)."""

    # ------------------------------------------------------------------ results
    def _groups(self, prefix: str) -> list[dict]:
        return [{"id": f"{prefix}{k:03d}", "title": a["label"], "description": a["description"]} for k, a in enumerate(self.arms)]

    def build_results(self) -> dict:
        rng = self.rng
        arms = self.arms
        self.control = next((k for k, a in enumerate(arms) if a["role"] == "placebo"), None)
        if self.control is None:
            self.control = next(k for k, a in enumerate(arms) if a["role"] == "active_comparator")
        self.dropout = [rng.uniform(0.03, 0.15) for _ in arms]
        og = self._groups("OG")
        outcome_measures = [self._outcome_measure(m, og) for m in self.measures]
        return {
            "participantFlowModule": self._flow(),
            "baselineCharacteristicsModule": self._baseline(),
            "outcomeMeasuresModule": {"outcomeMeasures": outcome_measures},
            "adverseEventsModule": self._adverse_events(),
            "moreInfoModule": self._more_info(),
        }

    def _outcome_measure(self, m: dict, og: list[dict]) -> dict:
        rng = self.rng
        ep = self.world["endpoints"][m["endpoint"]]
        load = ep["loading"]
        nd = ep["decimals"]
        frac_time = m["weeks"] / self.max_weeks
        ns = []
        for k, a in enumerate(self.arms):
            n = self.arm_n[k]
            if m["kind"] == "continuous" or self.style["resp_param"] == "COUNT" or rng.random() < 0.3:
                n = n - int(round(n * self.dropout[k] * frac_time)) - rng.randrange(0, 3)
            ns.append(max(2, n))
        # noise correlated across the endpoints of an arm at one time point: corr = load_i * load_j
        zs = self._z_shared.setdefault(m["weeks"], [rng.gauss(0.0, 1.0) for _ in self.arms])
        meas, stats = [], []
        for k, a in enumerate(self.arms):
            eps = load * zs[k] + math.sqrt(1.0 - load * load) * rng.gauss(0.0, 1.0)
            n = ns[k]
            true = a["true"][m["key"]]
            gid = og[k]["id"]
            if m["kind"] == "continuous":
                sd = ep["sd"] * rng.uniform(0.9, 1.1)
                se = sd / math.sqrt(n)
                value = _fmt(true + se * eps, nd)
                v = float(value)
                if m["disp"] == "Standard Deviation":
                    spread = _fmt(sd, nd + 1)
                    meas.append({"groupId": gid, "value": value, "spread": spread})
                    se_post = float(spread) / math.sqrt(n)
                elif m["disp"] == "Standard Error":
                    spread = _fmt(max(se, 10 ** -(nd + 1)), nd + 1)
                    meas.append({"groupId": gid, "value": value, "spread": spread})
                    se_post = float(spread)
                else:
                    lo, hi = _fmt(v - Z95 * se, nd + 1), _fmt(v + Z95 * se, nd + 1)
                    meas.append({"groupId": gid, "value": value, "lowerLimit": lo, "upperLimit": hi})
                    se_post = (float(hi) - float(lo)) / (2 * Z95)
                stats.append((v, se_post, n))
            else:
                p = true / 100.0
                x = int(round(n * p + math.sqrt(n * p * (1 - p)) * eps))
                x = min(n, max(0, x))
                if m["param"] == "COUNT_OF_PARTICIPANTS":
                    meas.append({"groupId": gid, "value": str(x)})
                elif m["disp"] == "95% Confidence Interval":
                    ph = x / n
                    half = Z95 * math.sqrt(ph * (1 - ph) / n)
                    meas.append({"groupId": gid, "value": _fmt(100 * ph, 1), "lowerLimit": _fmt(max(0.0, 100 * (ph - half)), 1),
                                 "upperLimit": _fmt(min(100.0, 100 * (ph + half)), 1)})
                else:
                    meas.append({"groupId": gid, "value": _fmt(100 * x / n, 1)})
                stats.append((x, None, n))
        out = {"type": m["type"], "title": m["title"], "description": m["description"],
               "populationDescription": rng.choice([
                   "Full analysis set: all randomized participants who received at least one dose of study drug.",
                   "Intent-to-treat (ITT) population; participants with an assessment at the time point were analysed.",
                   "Modified intent-to-treat population. Missing data were handled by multiple imputation." if m["kind"] == "continuous"
                   else "Full analysis set; participants with missing data were counted as non-responders."]),
               "reportingStatus": "POSTED", "paramType": m["param"]}
        if m["disp"]:
            out["dispersionType"] = m["disp"]
        out["unitOfMeasure"] = m["unit"]
        out["timeFrame"] = m["time_frame"]
        out["groups"] = og
        out["denoms"] = [{"units": "Participants", "counts": [{"groupId": og[k]["id"], "value": str(n)} for k, n in enumerate(ns)]}]
        out["classes"] = [{"categories": [{"measurements": meas}]}]
        if m["type"] == "PRIMARY" or rng.random() < 0.8:
            out["analyses"] = self._analyses(m, og, stats)
        return out

    def _analyses(self, m: dict, og: list[dict], stats: list[tuple]) -> list[dict]:
        rng = self.rng
        c = self.control
        ctrl_name = "placebo" if self.arms[c]["role"] == "placebo" else self.arms[c]["drug"]["name"]
        nd = self.world["endpoints"][m["endpoint"]]["decimals"] + 1
        out = []
        method_roll = rng.random()
        for k in range(len(self.arms)):
            if k == c:
                continue
            an: dict[str, Any] = {"groupIds": [og[c]["id"], og[k]["id"]]}
            if m["kind"] == "continuous":
                (vc, sec, _), (va, sea, _) = stats[c], stats[k]
                est = va - vc
                se = math.sqrt(sea * sea + sec * sec)
                z = est / se if se > 0 else 0.0
                if m["param"] == "LEAST_SQUARES_MEAN":
                    method = "ANCOVA" if method_roll < 0.6 else "Mixed Models Analysis"
                    ptype = "LS Mean Difference" if method_roll < 0.8 else "Difference"
                    desc = (f"{'ANCOVA' if method == 'ANCOVA' else 'Mixed model for repeated measures (MMRM)'} with treatment and region as "
                            f"factors and baseline value as covariate; difference = {self.arms[k]['label']} minus {ctrl_name}.")
                else:
                    method = "t-test, 2 sided" if method_roll < 0.6 else "ANCOVA"
                    ptype = "Mean Difference (Final Values)" if method_roll < 0.8 else "Mean Difference (Net)"
                    desc = f"Comparison of {self.arms[k]['label']} with {ctrl_name}."
                lo, hi = est - Z95 * se, est + Z95 * se
                an.update({"groupDescription": desc, "nonInferiorityType": rng.choice(["SUPERIORITY", "OTHER"]),
                           "pValue": _fmt_p(_p_two_sided(z), self.style["p"]), "statisticalMethod": method, "paramType": ptype,
                           "paramValue": _fmt(est, nd), "ciPctValue": "95", "ciNumSides": "TWO_SIDED",
                           "ciLowerLimit": _fmt(lo, nd), "ciUpperLimit": _fmt(hi, nd)})
                if rng.random() < 0.3:
                    an["dispersionType"] = "STANDARD_ERROR_OF_MEAN"
                    an["dispersionValue"] = _fmt(se, nd)
                if rng.random() < 0.2:
                    an["estimateComment"] = f"Difference = {self.arms[k]['label']} minus {ctrl_name}."
            else:
                (xc, _, nc), (xa, _, na) = stats[c], stats[k]
                if method_roll < 0.5:
                    pa, pc = xa / na, xc / nc
                    pa_s, pc_s = (xa + 0.5) / (na + 1), (xc + 0.5) / (nc + 1)  # continuity for the SE only
                    est = 100 * (pa - pc)
                    se = 100 * math.sqrt(pa_s * (1 - pa_s) / na + pc_s * (1 - pc_s) / nc)
                    z = est / se
                    method = "Cochran-Mantel-Haenszel" if method_roll < 0.35 else "Chi-squared"
                    an.update({"groupDescription": f"Risk difference ({self.arms[k]['label']} minus {ctrl_name}) in percentage points, "
                                                   f"stratified by region.",
                               "nonInferiorityType": rng.choice(["SUPERIORITY", "OTHER"]),
                               "pValue": _fmt_p(_p_two_sided(z), self.style["p"]), "statisticalMethod": method,
                               "paramType": "Risk Difference (RD)", "paramValue": _fmt(est, 2), "ciPctValue": "95",
                               "ciNumSides": "TWO_SIDED", "ciLowerLimit": _fmt(est - Z95 * se, 2),
                               "ciUpperLimit": _fmt(est + Z95 * se, 2)})
                else:
                    a_, b_, c_, d_ = xa, na - xa, xc, nc - xc
                    if min(a_, b_, c_, d_) == 0:
                        a_, b_, c_, d_ = a_ + 0.5, b_ + 0.5, c_ + 0.5, d_ + 0.5
                    log_or = math.log(a_ * d_ / (b_ * c_))
                    se = math.sqrt(1 / a_ + 1 / b_ + 1 / c_ + 1 / d_)
                    z = log_or / se
                    an.update({"groupDescription": f"Odds ratio ({self.arms[k]['label']} / {ctrl_name}) from a logistic regression "
                                                   f"model with treatment as factor.",
                               "nonInferiorityType": rng.choice(["SUPERIORITY", "OTHER"]),
                               "pValue": _fmt_p(_p_two_sided(z), self.style["p"]), "statisticalMethod": "Regression, Logistic",
                               "paramType": "Odds Ratio (OR)", "paramValue": _fmt(math.exp(log_or), 3), "ciPctValue": "95",
                               "ciNumSides": "TWO_SIDED", "ciLowerLimit": _fmt(math.exp(log_or - Z95 * se), 3),
                               "ciUpperLimit": _fmt(math.exp(log_or + Z95 * se), 3)})
            out.append(an)
        return out

    def _flow(self) -> dict:
        rng = self.rng
        fg = self._groups("FG")
        started, completed, not_completed, reasons = [], [], [], []
        drops = []
        for k, a in enumerate(self.arms):
            n = self.arm_n[k]
            d = int(round(n * self.dropout[k]))
            drops.append(d)
            started.append({"groupId": fg[k]["id"], "numSubjects": str(n)})
            completed.append({"groupId": fg[k]["id"], "numSubjects": str(n - d)})
            not_completed.append({"groupId": fg[k]["id"], "numSubjects": str(d)})
        w = [rng.uniform(0.2, 1.0) for _ in DROP_REASONS]
        per_arm = [_apportion(d, w) for d in drops]
        for j, reason in enumerate(DROP_REASONS):
            if sum(p[j] for p in per_arm) == 0:
                continue
            reasons.append({"type": reason, "reasons": [{"groupId": fg[k]["id"], "numSubjects": str(per_arm[k][j])}
                                                        for k in range(len(self.arms))]})
        s, e = self.dates["start"], self.dates["primary"]
        n_sites = sum(self.geo["sites"])
        screened = int(self.enrollment * rng.uniform(1.15, 1.8))
        ratio = ":".join(_num(r) for r in self.ratio)
        period: dict[str, Any] = {"title": "Overall Study", "milestones": [
            {"type": "STARTED", "achievements": started}, {"type": "COMPLETED", "achievements": completed},
            {"type": "NOT COMPLETED", "achievements": not_completed}]}
        if reasons:
            period["dropWithdraws"] = reasons
        return {
            "preAssignmentDetails": f"A total of {screened} participants were screened, of whom {self.enrollment} were randomized in a "
                                    f"{ratio} ratio to {len(self.arms)} treatment groups.",
            "recruitmentDetails": f"The study was conducted at {n_sites} sites in {len(self.geo['countries'])} "
                                  f"{'country' if len(self.geo['countries']) == 1 else 'countries'} between "
                                  f"{MONTHS[s.month - 1]} {s.year} and {MONTHS[e.month - 1]} {e.year}.",
            "groups": fg,
            "periods": [period],
        }

    def _baseline(self) -> dict:
        rng = self.rng
        bg = self._groups("BG")
        total_id = f"BG{len(self.arms):03d}"
        bg.append({"id": total_id, "title": "Total", "description": "Total of all reporting groups"})
        ns = list(self.arm_n)
        ns_all = ns + [sum(ns)]
        ids = [g["id"] for g in bg]
        denoms = [{"units": "Participants", "counts": [{"groupId": i, "value": str(n)} for i, n in zip(ids, ns_all)]}]

        def counts_measure(title: str, cats: list[str], shares: list[float]) -> dict:
            per = [_apportion(n, [max(1e-6, s * rng.uniform(0.85, 1.15)) for s in shares]) for n in ns]
            tot = [sum(p[j] for p in per) for j in range(len(cats))]
            per.append(tot)
            return {"title": title, "paramType": "COUNT_OF_PARTICIPANTS", "unitOfMeasure": "Participants",
                    "classes": [{"denoms": denoms, "categories": [
                        {"title": cat, "measurements": [{"groupId": ids[g], "value": str(per[g][j])} for g in range(len(ids))]}
                        for j, cat in enumerate(cats)]}]}

        def mean_measure(title: str, unit: str, mu: float, sd: float, nd: int, description: Optional[str] = None) -> dict:
            vals = []
            for n in ns:
                vals.append((mu + rng.gauss(0, sd / math.sqrt(max(n, 1))), sd * rng.uniform(0.9, 1.1)))
            tw = sum(ns)
            tm = sum(v[0] * n for v, n in zip(vals, ns)) / tw
            ts = math.sqrt(sum((v[1] ** 2 + (v[0] - tm) ** 2) * n for v, n in zip(vals, ns)) / tw)
            vals.append((tm, ts))
            out = {"title": title}
            if description:
                out["description"] = description
            out.update({"paramType": "MEAN", "dispersionType": "STANDARD_DEVIATION", "unitOfMeasure": unit,
                        "classes": [{"denoms": denoms, "categories": [{"measurements": [
                            {"groupId": ids[g], "value": _fmt(v[0], nd), "spread": _fmt(v[1], nd + 1)} for g, v in enumerate(vals)]}]}]})
            return out

        age_mu, age_sd = {"pediatric": (12.5, 3.0), "older_adult": (71.5, 5.0)}.get(
            self.age_group, (CONDITION_AGE[self.condition], 11.0))
        measures = [mean_measure("Age, Continuous", "years", age_mu, age_sd, 1)]
        phi = 0.5 * math.erfc(-((65 - age_mu) / age_sd) / math.sqrt(2))
        if self.age_group == "pediatric":
            shares = [1.0, 0.0, 0.0]
        else:
            shares = [0.0, phi, 1 - phi] if self.age_group == "adult" else [0.0, 0.02, 0.98]
        measures.append(counts_measure("Age, Categorical", ["<=18 years", "Between 18 and 65 years", ">=65 years"], shares))
        measures.append(counts_measure("Sex: Female, Male", ["Female", "Male"], [self.female_share, 1 - self.female_share]))
        rw = self.geo["region_weights"]
        if "United States" in self.geo["countries"]:
            hisp = 0.15 * rw.get("North America", 0) + 0.9 * rw.get("Latin America", 0) + 0.01
            measures.append(counts_measure("Ethnicity (NIH/OMB)", ["Hispanic or Latino", "Not Hispanic or Latino", "Unknown or Not Reported"],
                                           [hisp, 1 - hisp, 0.02]))
        asian = rw.get("Asia", 0) + 0.03
        black = 0.12 * rw.get("North America", 0) + 0.75 * rw.get("Africa", 0) + 0.02
        white = max(0.02, 1 - asian - black - 0.04)
        if "United States" in self.geo["countries"]:
            measures.append(counts_measure("Race (NIH/OMB)", ["American Indian or Alaska Native", "Asian", "Native Hawaiian or Other Pacific Islander",
                                                              "Black or African American", "White", "More than one race", "Unknown or Not Reported"],
                                           [0.004, asian, 0.003, black, white, 0.01, 0.02]))
        else:
            measures.append(counts_measure("Race/Ethnicity, Customized", ["Asian", "Black", "White", "Other"],
                                           [asian, black, white, 0.03]))
        # region of enrollment: one class per country
        classes = []
        per_group = [_apportion(n, self.geo["per_country"]) for n in ns]
        for j, c in enumerate(self.geo["countries"]):
            vals = [p[j] for p in per_group]
            vals.append(sum(vals))
            classes.append({"title": c, "categories": [{"measurements": [
                {"groupId": ids[g], "value": str(v)} for g, v in enumerate(vals)]}]})
        measures.append({"title": "Region of Enrollment", "paramType": "NUMBER", "unitOfMeasure": "participants", "classes": classes})
        for e in self.endpoint_ids:
            ep = self.world["endpoints"][e]
            if ep["kind"] != "continuous":
                continue
            unit = BASELINE_UNIT.get(e, ep["unit"])
            measures.append(mean_measure(ep["name"], unit, ep["baseline_mean"], ep["baseline_sd"], max(1, ep["decimals"]),
                                         description=ep["description"].split(". ")[0].rstrip(".") + "."))
        return {"populationDescription": "All randomized participants.", "groups": bg, "denoms": denoms, "measures": measures}

    def _adverse_events(self) -> dict:
        rng = self.rng
        eg = self._groups("EG")
        with_events = rng.random() < 0.5
        terms_class: list[str] = []
        for a in self.arms:
            if a["drug"] is not None:
                for t in a["drug"]["ae_terms"]:
                    if t not in terms_class:
                        terms_class.append(t)
        generic = rng.sample(OTHER_EVENTS, rng.randint(2, 5))
        other_terms = terms_class + [t for t, _ in generic if t not in terms_class]
        serious_terms = [t for t, _ in rng.sample(SERIOUS_EVENTS, rng.randint(1, 4))]
        duration_factor = min(1.5, 0.5 + self.max_weeks / 52)

        def n_affected(n: int, rate: float) -> int:
            mu = n * rate
            return min(n, max(0, int(round(mu + math.sqrt(mu * (1 - rate)) * rng.gauss(0, 1)))))

        def stats(term_rate) -> list[dict]:
            out = []
            for k, a in enumerate(self.arms):
                n = self.arm_n[k]
                x = n_affected(n, term_rate(a))
                st = {"groupId": eg[k]["id"]}
                if with_events:
                    st["numEvents"] = x + (rng.randrange(0, 1 + x // 3) if x else 0)
                st["numAffected"] = x
                st["numAtRisk"] = n
                out.append(st)
            return out

        def class_rate(term: str):
            def f(a):
                drug = a["drug"]
                if drug is not None and term in drug["ae_terms"]:
                    frac = a["dose"] / (a["dose"] + drug["typical_dose"])
                    return min(0.6, (0.03 + 0.12 * frac) * duration_factor)
                return 0.025 * duration_factor
            return f

        serious, other = [], []
        vocab = rng.choice(["MedDRA (18.0)", "MedDRA (21.1)", "MedDRA (24.0)", "MedDRA (26.0)"])
        for t in serious_terms:
            rate = rng.uniform(0.002, 0.012)
            serious.append({"term": t, "organSystem": ORGAN_OF[t], "sourceVocabulary": vocab, "assessmentType": "SYSTEMATIC_ASSESSMENT",
                            "stats": stats(lambda a, r=rate: r)})
        for t in other_terms:
            if t in terms_class:
                f = class_rate(t)
            else:
                rate = rng.uniform(0.02, 0.09) * duration_factor
                f = (lambda a, r=rate: r)
            other.append({"term": t, "organSystem": ORGAN_OF.get(t, "General disorders"), "sourceVocabulary": vocab,
                          "assessmentType": "SYSTEMATIC_ASSESSMENT", "stats": stats(f)})
        for k, g in enumerate(eg):
            n = self.arm_n[k]
            s_aff = min(n, sum(ev["stats"][k]["numAffected"] for ev in serious))
            o_aff = min(n, int(max((ev["stats"][k]["numAffected"] for ev in other), default=0) * rng.uniform(1.2, 2.0)))
            g.update({"deathsNumAffected": n_affected(n, 0.002) if self.condition in ("hf", "nsclc", "copd") else 0,
                      "deathsNumAtRisk": n, "seriousNumAffected": s_aff, "seriousNumAtRisk": n,
                      "otherNumAffected": o_aff, "otherNumAtRisk": n})
        return {"frequencyThreshold": "5",
                "timeFrame": f"From first dose of study drug up to Week {self.max_weeks + 4} (end of safety follow-up)",
                "description": "Treatment-emergent adverse events are presented for the safety population (all participants who received at "
                               "least one dose of study drug), analysed according to the treatment actually received.",
                "eventGroups": eg, "seriousEvents": serious, "otherEvents": other}

    def _more_info(self) -> dict:
        rng = self.rng
        sponsor = self.sponsor_name
        restriction = rng.choice(["LTE60", "GT60", "OTHER"])
        agreement: dict[str, Any] = {"piSponsorEmployee": False, "restrictionType": restriction, "restrictiveAgreement": True}
        if restriction == "OTHER":
            agreement["otherDetails"] = ("The investigator may publish results from the investigator's site after the multi-center "
                                         "publication, or 12 months after study completion, subject to prior review by the sponsor.")
        domain = "".join(ch for ch in sponsor.lower().split()[0] if ch.isalpha())
        return {"certainAgreement": agreement,
                "pointOfContact": {"title": rng.choice(["Clinical Trial Disclosure", "Study Director", "Medical Information"]),
                                   "organization": sponsor, "email": f"clinicaltrials@{domain}.example.com",
                                   "phone": f"+1 555-{rng.randrange(100, 999)}-{rng.randrange(1000, 9999)}"}}
