"""One simulated study: ``_Study`` plans it, builds arms, interventions and outcomes, and assembles the
API v2 record (protocol and results from the mixins in ``protocol.py`` and ``results.py``)."""
from __future__ import annotations

import math
import random
from datetime import timedelta
from typing import Any

from ...core.mechanism import _mixture, _mixture_mean
from .catalogue import REGISTRY_DATE
from .plan import _plan_dates, _plan_design, _plan_geography, _status
from .protocol import _Protocol
from .results import _Results
from .text import (_apportion, _d, _dose_style, _dose_text, BACKGROUND, CONT_TIMEFRAMES, CONT_TITLES,
                   COUNT_TITLE, FORM, FREQ_ABBR, FREQ_TEXT, nct_id, PCT_TITLES, PLACEBO_FORM, RESP_TIMEFRAMES,
                   RESP_TITLES, ROUTE_ABBR, ROUTE_TEXT)
from .world import dose_mg


class _Study(_Protocol, _Results):
    """Builds one study record and its truth from a per-study random generator."""

    def __init__(self, world: dict, seed: int, index: int):
        self.world = world
        self.rng = random.Random(f"deepimagine-study:{seed}:{index}")
        self.nct = nct_id(seed, index)
        self.index = index

    # ------------------------------------------------------------------ plan
    def plan(self) -> None:
        rng = self.rng
        p = _plan_design(self.world, rng)
        self.__dict__.update(p)
        self.cond = self.world["conditions"][self.condition]
        top = self.phases[-1]
        lo, hi = {"PHASE1": (40, 120), "PHASE2": (80, 450), "PHASE3": (250, 2000), "PHASE4": (100, 900)}[top]
        enrollment = int(math.exp(rng.uniform(math.log(lo), math.log(hi))))
        enrollment = max(enrollment, 12 * len(self.arms))
        ratio = [1.0] * len(self.arms)
        if self.design == "placebo" and rng.random() < 0.3:
            ratio = [1.0, 2.0]
        self.ratio = ratio
        self.geo = _plan_geography(rng, self.phases, enrollment)
        self.dates = _plan_dates(rng, self.phases)
        self.status, self.has_results = _status(rng, self.dates)
        if self.status == "TERMINATED":
            enrollment = max(6 * len(self.arms), int(enrollment * rng.uniform(0.3, 0.8)))
            self.geo["per_country"] = _apportion(enrollment, self.geo["per_country"])
        self.enrollment = enrollment
        self.arm_n = _apportion(enrollment, ratio)
        weeks = sorted(rng.sample(self.cond["weeks"], rng.choice([2, 3]) if len(self.cond["weeks"]) > 2 else 2))
        if top == "PHASE1":
            weeks = weeks[:2]
        self.weeks = weeks
        self.max_weeks = weeks[-1]
        eps = self.cond["endpoints"]
        chosen = list(eps) if len(eps) <= 3 or rng.random() < 0.6 else [eps[0]] + rng.sample(eps[1:], len(eps) - 2)
        if rng.random() < 0.3:
            rng.shuffle(chosen)
        self.endpoint_ids = chosen
        self.placebo_factor = round(math.exp(rng.gauss(0.0, 0.15)), 4)
        self.academic = self.phases[-1] == "PHASE4" and rng.random() < 0.6 or rng.random() < 0.08
        self.style = {
            "dose": {},
            "label": rng.choices(range(8), weights=[4, 3, 1, 2 if self.design == "dose_ranging" else 0, 1, 1,
                                                    1 if self.design == "dose_ranging" and len(self.arms) <= 5 else 0, 1])[0],
            "desc": rng.choices(range(5), weights=[4, 3, 2, 2, 2])[0],
            "title": rng.randrange(3),
            "cont_tf": rng.randrange(len(CONT_TIMEFRAMES)),
            "resp_tf": rng.randrange(len(RESP_TIMEFRAMES)),
            "resp_param": rng.choices(["NUMBER", "NUMBER_CI", "COUNT"], [0.7, 0.15, 0.15])[0],
            "cont_param": rng.choices([("MEAN", "Standard Deviation"), ("LEAST_SQUARES_MEAN", "Standard Error"),
                                       ("LEAST_SQUARES_MEAN", "95% Confidence Interval"), ("MEAN", "Standard Error")],
                                      [0.35, 0.45, 0.1, 0.1])[0],
            "p": rng.randrange(3),
            "resp_unit": rng.choice(["percentage of participants", "Percentage of participants", "percent of participants"]),
            "nodose": self.design == "dose_ranging" and rng.random() < 0.03,
            "per_arm_interventions": self.design == "dose_ranging" and rng.random() < 0.25,
        }

    # ------------------------------------------------------------------ arms text
    def _dose_txt(self, drug: dict, dose: float) -> str:
        unit = drug["dose_unit"]
        st = self.style["dose"].setdefault(drug["id"], _dose_style(self.rng, unit))
        return _dose_text(dose, unit, st)

    def build_arms(self) -> None:
        rng = self.rng
        st = self.style
        test = self.test
        route_idx = rng.randrange(5)
        freq_idx = rng.randrange(6)
        levels = ["Low", "Medium", "High", "Highest"]
        n_exp = sum(1 for a in self.arms if a["role"] == "experimental")
        letters = "ABCDEFGH"
        labels: list[str] = []
        weeks = self.max_weeks
        background = BACKGROUND.get(self.condition)
        for k, a in enumerate(self.arms):
            drug = a["drug"] if a["drug"] is not None else test
            route = drug["route"]
            freq = drug["frequency"]
            route_txt = ROUTE_TEXT[route][route_idx % len(ROUTE_TEXT[route])]
            freq_txt = FREQ_TEXT[freq][freq_idx % len(FREQ_TEXT[freq])]
            abbr = FREQ_ABBR[freq]
            dur = f"and were followed for {weeks} weeks" if freq == "ONCE" else f"for {weeks} weeks"
            name = drug["name"]
            lstyle = st["label"] if (a["role"] != "active_comparator" or st["label"] in (0, 1, 7)) else 0
            if a["role"] == "placebo":
                label = {0: "Placebo", 1: f"Placebo {abbr}", 2: "Placebo", 3: f"Cohort {letters[k]}: Placebo", 4: "Placebo",
                         5: f"Placebo {ROUTE_ABBR[route]} {abbr}", 6: "Placebo", 7: f"Arm {k + 1}: Placebo"}[lstyle]
                if lstyle in (0, 2, 4, 6) and rng.random() < 0.3:
                    label = rng.choice(["Matching Placebo", "Placebo Comparator", "Placebo Group"])
                pform = PLACEBO_FORM[route]
                ds = st["desc"]
                if ds == 3 and not background:
                    ds = 0
                desc = [
                    f"Participants received placebo matching {name} {route_txt} {freq_txt} {dur}.",
                    f"Matching placebo administered {route_txt} {freq_txt} from Day 1 to Week {weeks}.",
                    f"Placebo {pform} identical in appearance to {name}, given {route_txt} {freq_txt} {dur}.",
                    f"Placebo {route_txt} {freq_txt} {dur}, in addition to {background}.",
                    f"Subjects randomized to this arm received placebo {freq_txt}, {route_txt}, {dur}.",
                ][ds]
            else:
                dose_txt = self._dose_txt(drug, a["dose"])
                exp_rank = sum(1 for b in self.arms[:k] if b["role"] == "experimental")
                level = levels[min(exp_rank, 3)] if n_exp > 1 else "Standard"
                code_or_name = drug["code"] if rng.random() < 0.5 else name
                label = {0: f"{name} {dose_txt}", 1: f"{name} {dose_txt} {abbr}", 2: f"{drug['code']} {dose_txt}",
                         3: f"Cohort {letters[k]}: {dose_txt} {abbr}", 4: f"{dose_txt} {name}",
                         5: f"{code_or_name} {dose_txt} {ROUTE_ABBR[route]} {abbr}",
                         6: f"{name} {level} Dose", 7: f"Arm {k + 1}: {name} {dose_txt}"}[lstyle]
                ds = st["desc"]
                if ds == 3 and not background:
                    ds = 0
                if route == "sc" and rng.random() < 0.05:
                    ds = 5
                nm = name if rng.random() < 0.85 else f"{name} ({drug['code']})"
                form = FORM[route][rng.randrange(len(FORM[route]))]
                if st["nodose"] and a["role"] == "experimental" and lstyle in (3, 6):
                    lstyle = 6
                    label = f"{name} {level} Dose"
                    desc = f"Participants received {nm} ({level.lower()} dose) {route_txt} {freq_txt} {dur}."
                else:
                    desc = [
                        f"Participants received {nm} {dose_txt} {route_txt} {freq_txt} {dur}.",
                        f"{nm} {dose_txt} administered {route_txt} {freq_txt} from Day 1 to Week {weeks}.",
                        f"Participants will receive {dose_txt} of {nm} {route_txt} {freq_txt}.",
                        f"{nm} {dose_txt} {form} {route_txt} {freq_txt} {dur}, in addition to {background}.",
                        f"Subjects randomized to this arm received {nm} at a dose of {dose_txt} {freq_txt}, {route_txt}, {dur}.",
                        f"{nm} {dose_txt} {route_txt} {freq_txt} after a loading dose of {self._dose_txt(drug, 2 * a['dose'])} on Day 1, {dur}.",
                    ][ds]
                a["dose_text"] = dose_txt
            while label in labels:
                label += " (2)" if not label.endswith(")") else "I"
            labels.append(label)
            a["label"] = label
            a["description"] = desc
            a["arm_type"] = {"placebo": "PLACEBO_COMPARATOR", "experimental": "EXPERIMENTAL",
                             "active_comparator": "ACTIVE_COMPARATOR"}[a["role"]]
            a["route"] = route
            a["frequency"] = freq
            a["route_txt"] = route_txt
            a["freq_txt"] = freq_txt
        self._build_interventions()

    def _build_interventions(self) -> None:
        rng = self.rng
        interventions: list[dict] = []
        by_drug: dict[str, list[dict]] = {}
        for a in self.arms:
            if a["drug"] is not None:
                by_drug.setdefault(a["drug"]["id"], []).append(a)
        for a in self.arms:
            a["interventions"] = []
        for drug_id, arms in by_drug.items():
            drug = self.world["drugs"][drug_id]
            itype = drug["intervention_type"]
            word = "Drug" if itype == "DRUG" else "Biological"
            form = FORM[drug["route"]][0]
            use_code = rng.random() < 0.15
            base_name = drug["code"] if use_code else drug["name"]
            other = [n for n in ([drug["name"]] if use_code else []) + drug["other_names"] if n != base_name]
            doses = sorted({a["dose"] for a in arms})
            dose_list = ", ".join(self._dose_txt(drug, d) for d in doses)
            arm0 = arms[0]
            desc = f"{drug['name']} {dose_list} {form} administered {arm0['route_txt']} {arm0['freq_txt']}."
            if rng.random() < 0.5:
                desc = f"{drug['name']} is a {drug['mechanism']}. " + desc
            groups = [arms] if not (self.style["per_arm_interventions"] and len(arms) > 1) else [[a] for a in arms]
            for grp in groups:
                name = base_name if len(groups) == 1 else f"{base_name} {self._dose_txt(drug, grp[0]['dose'])}"
                iv = {"type": itype, "name": name, "description": desc, "armGroupLabels": [a["label"] for a in grp]}
                if other:
                    iv["otherNames"] = list(other)
                interventions.append(iv)
                for a in grp:
                    a["interventions"].append(f"{word}: {name}")
        placebos = [a for a in self.arms if a["role"] == "placebo"]
        if placebos:
            test = self.test
            name = "Placebo" if rng.random() < 0.7 else f"Placebo to match {test['name']}"
            interventions.append({"type": "DRUG", "name": name,
                                  "description": f"Matching placebo {PLACEBO_FORM[test['route']]} containing no active ingredient.",
                                  "armGroupLabels": [a["label"] for a in placebos]})
            for a in placebos:
                a["interventions"].append(f"Drug: {name}")
        self.interventions = interventions

    # ------------------------------------------------------------------ outcomes + truth
    def build_outcomes(self) -> None:
        rng = self.rng
        st = self.style
        eps = self.world["endpoints"]
        primary_ep = self.endpoint_ids[0]
        co_primary = self.endpoint_ids[1] if len(self.endpoint_ids) > 1 and rng.random() < 0.1 else None
        order = [(primary_ep, self.max_weeks)] + [(e, self.max_weeks) for e in self.endpoint_ids[1:]]
        for w in reversed(self.weeks[:-1]):  # earlier time points: the primary endpoint and some others
            order += [(e, w) for j, e in enumerate(self.endpoint_ids) if j == 0 or rng.random() < 0.4]
        measures = []
        for e, w in order:
            ep = eps[e]
            if ep["kind"] == "continuous":
                tmpl = (PCT_TITLES if ep["unit"] == "percent change" else CONT_TITLES)[st["title"]]
                tf = CONT_TIMEFRAMES[st["cont_tf"]].format(w=w)
                param, disp = st["cont_param"]
                unit = ep["unit"] if ep["unit"] != "percent change" else "percent change"
            else:
                param = "COUNT_OF_PARTICIPANTS" if st["resp_param"] == "COUNT" else "NUMBER"
                tmpl = COUNT_TITLE if param == "COUNT_OF_PARTICIPANTS" else RESP_TITLES[st["title"]]
                tf = RESP_TIMEFRAMES[st["resp_tf"]].format(w=w)
                disp = "95% Confidence Interval" if st["resp_param"] == "NUMBER_CI" else None
                unit = "Participants" if param == "COUNT_OF_PARTICIPANTS" else st["resp_unit"]
            title = tmpl.format(name=ep["name"], short=ep["short"], w=w)
            mtype = "PRIMARY" if (e == primary_ep or e == co_primary) and w == self.max_weeks else "SECONDARY"
            measures.append({"endpoint": e, "weeks": w, "title": title, "time_frame": tf, "type": mtype, "kind": ep["kind"],
                             "param": param, "disp": disp, "unit": unit, "description": ep["description"],
                             "key": f"{title} | {tf}"})
        self.measures = measures
        # truth
        truth_arms: dict[str, dict] = {}
        rw = self.geo["region_weights"]
        strata = _mixture(self.world, rw, self.age_group, self.female_share)
        for a in self.arms:
            drug = a["drug"]
            dose = a["dose"] if drug is not None else 0.0
            a["true"] = {}
            for m in measures:
                a["true"][m["key"]] = _mixture_mean(self.world, drug["id"] if drug else None, dose, m["endpoint"], m["weeks"],
                                                    strata, self.placebo_factor)
            unit = drug["dose_unit"] if drug else None
            truth_arms[a["label"]] = {
                "drug": drug["id"] if drug else None, "drug_name": drug["name"] if drug else "Placebo",
                "role": a["role"], "dose": dose if drug else None, "dose_unit": unit,
                "dose_mg": dose_mg(dose, unit) if drug else None,
                "frequency": a["frequency"], "route": a["route"],
                "outcomes": {k: round(v, 4) for k, v in a["true"].items()},
            }
        self.truth = {
            "design": self.design, "condition": self.condition, "phases": self.phases,
            "region": self.geo["region"], "region_weights": rw,
            "population": {"age_group": self.age_group, "sex": self.sex, "female_share": self.female_share},
            "placebo_factor": self.placebo_factor, "has_results": self.has_results,
            "arms": truth_arms,
            "outcomes": {m["key"]: {"endpoint": m["endpoint"], "weeks": m["weeks"], "kind": m["kind"],
                                    "better": eps[m["endpoint"]]["better"], "type": m["type"],
                                    "scale": eps[m["endpoint"]]["scale_sd"],
                                    "value_scale": eps[m["endpoint"]]["value_scale"]} for m in measures},
        }


    def build_derived(self) -> dict:
        cond = self.cond
        mesh_id, mesh_term = cond["mesh"]
        leaves = [{"id": f"M{int(mesh_id[1:]) % 29000 + 1000}", "name": mesh_term, "asFound": self._conditions_text[0], "relevance": "HIGH"}]
        leaves += [{"id": f"M{int(a[0][1:]) % 29000 + 1000}", "name": a[1], "relevance": "LOW"} for a in cond["ancestors"]]
        branches = [{"abbrev": b[0], "name": b[1]} for b in cond["branches"]] + [{"abbrev": "All", "name": "All Conditions"}]
        drug_leaves = []
        for a in self.arms:
            if a["drug"] is not None:
                name = a["drug"]["mechanism_class"]
                leaf = {"id": f"M{sum(map(ord, name)) % 29000 + 1000}", "name": name, "relevance": "LOW"}
                if leaf not in drug_leaves:
                    drug_leaves.append(leaf)
        return {"miscInfoModule": {"versionHolder": _d(REGISTRY_DATE - timedelta(days=3))},
                "conditionBrowseModule": {"meshes": [{"id": mesh_id, "term": mesh_term}],
                                          "ancestors": [{"id": a[0], "term": a[1]} for a in cond["ancestors"]],
                                          "browseLeaves": leaves, "browseBranches": branches},
                "interventionBrowseModule": {"browseLeaves": drug_leaves,
                                             "browseBranches": [{"abbrev": "All", "name": "All Drugs and Chemicals"}]}}

    # ------------------------------------------------------------------ all
    def build(self) -> tuple[dict, dict]:
        self.plan()
        self.build_arms()
        self.build_outcomes()
        protocol = self.build_protocol()
        record: dict[str, Any] = {"protocolSection": protocol}
        if self.has_results:
            self._z_shared: dict[float, list[float]] = {}
            record["resultsSection"] = self.build_results()
        record["derivedSection"] = self.build_derived()
        record["hasResults"] = self.has_results
        return record, self.truth
