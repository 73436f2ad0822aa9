"""The protocol section of a simulated study (identification, status, design, arms and
interventions text, eligibility, locations): a mixin of ``study._Study``."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from .catalogue import ACADEMIC_SPONSORS, COUNTRIES, FIRST_NAMES, INDUSTRY_SPONSORS, LAST_NAMES, REGISTRY_DATE
from .text import _d, _num, _ym, EXCLUSION_COMMON, FACILITY_STYLES, INCLUSION


class _Protocol:
    """Protocol-section builders of ``_Study`` (uses its plan and ``self.rng``)."""

    # ------------------------------------------------------------------ protocol
    def _population_phrase(self) -> str:
        base = {"pediatric": self.rng.choice(["Children and Adolescents", "Pediatric Participants"]),
                "older_adult": self.rng.choice(["Older Adults", "Participants Aged 65 Years and Older"]),
                "adult": self.rng.choice(["Adults", "Adult Participants", "Participants"])}[self.age_group]
        if self.sex == "FEMALE":
            return "Women" if self.age_group == "adult" else f"Female {base}"
        if self.sex == "MALE":
            return "Men" if self.age_group == "adult" else f"Male {base}"
        return base

    def build_protocol(self) -> dict:
        rng = self.rng
        test, cond = self.test, self.cond
        dates = self.dates
        pop = self._population_phrase()
        cond_name = cond["name"]
        sev = cond["severity"]
        if self.academic:
            sponsor, site = ACADEMIC_SPONSORS[rng.randrange(len(ACADEMIC_SPONSORS))]
            sponsor_class = "OTHER"
            org_id = f"{dates['start'].year}-{rng.randrange(1, 999):04d}"
        else:
            sponsor, sponsor_class = test["sponsor"], "INDUSTRY"
            site = sponsor
            org_id = f"{test['code']}-{self.condition.upper()}-{rng.randrange(100, 999)}"
        self.sponsor_name = sponsor
        comp = self.comparator
        control_words = {"placebo": "Placebo-Controlled", "dose_ranging": "Placebo-Controlled, Dose-Ranging",
                         "active": "Active-Controlled", "multi": "Placebo- and Active-Controlled"}[self.design]
        masked = self.design != "active" or rng.random() < 0.5
        masking = rng.choice(["DOUBLE", "TRIPLE", "QUADRUPLE"]) if masked else "NONE"
        mask_words = {"NONE": "Open-Label", "DOUBLE": "Double-Blind", "TRIPLE": "Double-Blind", "QUADRUPLE": "Double-Blind"}[masking]
        phase_words = "/".join(p.replace("PHASE", "") for p in self.phases)
        multicenter = "Multicenter " if sum(self.geo["sites"]) > 1 else ""
        official = (f"A Phase {phase_words}, Randomized, {mask_words}, {control_words}, {multicenter}Study to Evaluate the Efficacy and "
                    f"Safety of {test['name']} in {pop} With {sev[0].upper() + sev[1:]} {cond_name}")
        if self.design == "active":
            official = (f"A Phase {phase_words}, Randomized, {mask_words}, {multicenter}Study Comparing {test['name']} With "
                        f"{comp['name']} in {pop} With {cond_name}")
        brief = rng.choice([
            f"A Study of {test['name']} in {pop} With {cond_name}",
            f"Efficacy and Safety of {test['name']} ({test['code']}) in {cond_name}",
            f"{test['name']} in {pop} With {sev[0].upper() + sev[1:]} {cond_name}",
        ])
        if self.design == "active":
            brief = f"{test['name']} Versus {comp['name']} in {pop} With {cond_name}"
        elif self.design == "dose_ranging" and rng.random() < 0.5:
            brief = f"Dose-Ranging Study of {test['name']} in {pop} With {cond_name}"
        ident: dict[str, Any] = {"nctId": self.nct, "orgStudyIdInfo": {"id": org_id},
                                 "organization": {"fullName": sponsor, "class": sponsor_class},
                                 "briefTitle": brief, "officialTitle": official}
        if rng.random() < 0.25:
            ident["acronym"] = f"{test['name'][:4].upper()}-{cond['aliases'][-1].split()[0][:3].upper()}{rng.randint(1, 4)}"

        primary_m = self.measures[0]
        control_txt = {"placebo": "placebo", "dose_ranging": "placebo", "active": comp["name"] if comp else "",
                       "multi": f"placebo and {comp['name']}" if comp else "placebo"}[self.design]
        summary = (f"{test['name']} is an investigational {test['mechanism']}. The purpose of this study is to evaluate the efficacy "
                   f"and safety of {test['name']} compared with {control_txt} in {pop.lower()} with {sev} {cond_name.lower()}")
        if self.design == "dose_ranging":
            summary += f", and to characterize the dose-response relationship across {sum(1 for a in self.arms if a['role'] == 'experimental')} dose levels"
        summary += f". The primary endpoint is {primary_m['title'][0].lower() + primary_m['title'][1:]}."
        desc: dict[str, Any] = {"briefSummary": summary}
        if rng.random() < 0.5:
            ratio = ":".join(_num(r) for r in self.ratio)
            desc["detailedDescription"] = (
                f"This is a {mask_words.lower()}, randomized, {control_words.lower()} study. Approximately {self.enrollment} participants "
                f"will be randomized in a {ratio} ratio to {len(self.arms)} treatment groups. Randomization is stratified by region and "
                f"by baseline disease severity. The study consists of a screening period of up to 4 weeks, a {self.max_weeks}-week "
                f"treatment period and a 4-week safety follow-up period. Efficacy is assessed at Weeks "
                f"{', '.join(str(w) for w in self.weeks)}.")
        status = self._status_module()
        n_sites = sum(self.geo["sites"])
        design: dict[str, Any] = {"studyType": "INTERVENTIONAL", "phases": list(self.phases), "designInfo": {
            "allocation": "RANDOMIZED", "interventionModel": "PARALLEL", "primaryPurpose": "TREATMENT",
            "maskingInfo": {"masking": masking}}}
        if masking != "NONE":
            design["designInfo"]["maskingInfo"]["whoMasked"] = {
                "DOUBLE": ["PARTICIPANT", "INVESTIGATOR"], "TRIPLE": ["PARTICIPANT", "INVESTIGATOR", "OUTCOMES_ASSESSOR"],
                "QUADRUPLE": ["PARTICIPANT", "CARE_PROVIDER", "INVESTIGATOR", "OUTCOMES_ASSESSOR"]}[masking]
        actual = self.status in ("COMPLETED", "TERMINATED", "ACTIVE_NOT_RECRUITING", "UNKNOWN")
        design["enrollmentInfo"] = {"count": self.enrollment, "type": "ACTUAL" if actual else "ESTIMATED"}
        sponsor_mod: dict[str, Any] = {"responsibleParty": {"type": "SPONSOR"}, "leadSponsor": {"name": sponsor, "class": sponsor_class}}
        if self.academic:
            pi = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            sponsor_mod["responsibleParty"] = {"type": "PRINCIPAL_INVESTIGATOR", "investigatorFullName": pi,
                                               "investigatorTitle": "Professor of Medicine", "investigatorAffiliation": sponsor}
            sponsor_mod["collaborators"] = [{"name": test["sponsor"], "class": "INDUSTRY"}]
        elif rng.random() < 0.15:
            other = INDUSTRY_SPONSORS[rng.randrange(len(INDUSTRY_SPONSORS))][0]
            if other != sponsor:
                sponsor_mod["collaborators"] = [{"name": other, "class": "INDUSTRY"}]
        oversight: dict[str, Any] = {"oversightHasDmc": self.phases[-1] in ("PHASE3",) or rng.random() < 0.3}
        if dates["start"].year >= 2017:
            oversight["isFdaRegulatedDrug"] = "United States" in self.geo["countries"]
            oversight["isFdaRegulatedDevice"] = False
        conditions = [cond["aliases"][rng.randrange(len(cond["aliases"]))]]
        if rng.random() < 0.3:
            alt = cond["aliases"][rng.randrange(len(cond["aliases"]))]
            if alt not in conditions:
                conditions.append(alt)
        keywords = [test["name"], test["mechanism_class"]] + cond["keywords"][: rng.randint(1, 3)]
        primary = [{"measure": m["title"], "description": m["description"], "timeFrame": m["time_frame"]}
                   for m in self.measures if m["type"] == "PRIMARY"]
        secondary = [{"measure": m["title"], "description": m["description"], "timeFrame": m["time_frame"]}
                     for m in self.measures if m["type"] == "SECONDARY"]
        outcomes: dict[str, Any] = {"primaryOutcomes": primary}
        if secondary:
            outcomes["secondaryOutcomes"] = secondary
        self._conditions_text = conditions
        return {
            "identificationModule": ident,
            "statusModule": status,
            "sponsorCollaboratorsModule": sponsor_mod,
            "oversightModule": oversight,
            "descriptionModule": desc,
            "conditionsModule": {"conditions": conditions, "keywords": keywords},
            "designModule": design,
            "armsInterventionsModule": {
                "armGroups": [{"label": a["label"], "type": a["arm_type"], "description": a["description"],
                               "interventionNames": a["interventions"]} for a in self.arms],
                "interventions": self.interventions},
            "outcomesModule": outcomes,
            "eligibilityModule": self._eligibility(),
            "contactsLocationsModule": self._locations(site, n_sites),
        }

    def _status_module(self) -> dict:
        rng = self.rng
        d = self.dates
        ref = REGISTRY_DATE
        fmt = _d if d["full_dates"] else _ym
        started = self.status not in ("NOT_YET_RECRUITING",)
        done = self.status in ("COMPLETED", "TERMINATED", "UNKNOWN")
        out: dict[str, Any] = {}
        first_qc = d["first_submit"] + timedelta(days=rng.randint(0, 10))
        first_post = first_qc + timedelta(days=rng.randint(1, 5))
        last_update = first_post
        results: dict[str, Any] = {}
        if self.has_results:
            rs = d["results_submit"]
            rqc = rs + timedelta(days=rng.randint(10, 110))
            rpost = rqc + timedelta(days=rng.randint(1, 20))
            results = {"resultsFirstSubmitDate": _d(rs), "resultsFirstSubmitQcDate": _d(rqc),
                       "resultsFirstPostDateStruct": {"date": _d(rpost), "type": "ACTUAL"}}
            last_update = rpost
        elif done:
            last_update = min(ref, d["completion"] + timedelta(days=rng.randint(10, 200)))
        else:
            last_update = max(first_post, ref - timedelta(days=rng.randint(5, 120)))
        last_update = max(first_post, min(last_update, ref))
        out["statusVerifiedDate"] = _ym(last_update)
        out["overallStatus"] = self.status
        if self.status == "UNKNOWN":
            out["lastKnownStatus"] = "ACTIVE_NOT_RECRUITING"
        if self.status == "TERMINATED":
            out["whyStopped"] = rng.choice(["Sponsor decision", "Slow recruitment", "Business reasons unrelated to safety",
                                            "Futility at the pre-specified interim analysis"])
        out["expandedAccessInfo"] = {"hasExpandedAccess": False}
        out["startDateStruct"] = {"date": fmt(d["start"]), "type": "ACTUAL" if started else "ESTIMATED"}
        out["primaryCompletionDateStruct"] = {"date": fmt(d["primary"]), "type": "ACTUAL" if done else "ESTIMATED"}
        out["completionDateStruct"] = {"date": fmt(d["completion"]), "type": "ACTUAL" if done else "ESTIMATED"}
        out["studyFirstSubmitDate"] = _d(d["first_submit"])
        out["studyFirstSubmitQcDate"] = _d(first_qc)
        out["studyFirstPostDateStruct"] = {"date": _d(first_post), "type": "ESTIMATED" if first_post.year < 2017 else "ACTUAL"}
        out.update(results)
        out["lastUpdateSubmitDate"] = _d(last_update)
        out["lastUpdatePostDateStruct"] = {"date": _d(min(ref, last_update + timedelta(days=rng.randint(1, 4)))), "type": "ACTUAL"}
        return out

    def _eligibility(self) -> dict:
        rng = self.rng
        if self.age_group == "pediatric":
            lo, hi = rng.choice([6, 12]), 17
        elif self.age_group == "older_adult":
            lo, hi = 65, rng.choice([None, 85])
        else:
            lo, hi = 18, rng.choice([65, 75, 80, None])
        std = []
        if lo < 18:
            std.append("CHILD")
        if (hi is None or hi >= 18) and lo <= 64:
            std.append("ADULT")
        if hi is None or hi >= 65:
            std.append("OLDER_ADULT")
        sex_words = {"ALL": "Male or female participants", "FEMALE": "Female participants", "MALE": "Male participants"}[self.sex]
        age_words = f"aged {lo} to {hi} years" if hi else f"aged {lo} years or older"
        inc = [f"{sex_words} {age_words} at the time of signing informed consent"] + INCLUSION[self.condition]
        if self.age_group == "pediatric":
            inc.append("Parent or legal guardian able to provide written informed consent, with assent from the participant")
        else:
            inc.append("Able to understand and willing to sign the informed consent form")
        exc = [f"Previous treatment with any {self.test['mechanism_class']}"] + rng.sample(EXCLUSION_COMMON, rng.randint(5, 8))
        criteria = ("Inclusion Criteria:\n\n" + "\n".join(f"* {x}" for x in inc) +
                    "\n\nExclusion Criteria:\n\n" + "\n".join(f"* {x}" for x in exc))
        out: dict[str, Any] = {"eligibilityCriteria": criteria, "healthyVolunteers": False, "sex": self.sex,
                               "minimumAge": f"{lo} Years"}
        if hi:
            out["maximumAge"] = f"{hi} Years"
        out["stdAges"] = std
        return out

    def _locations(self, site: str, n_sites: int) -> dict:
        rng = self.rng
        recruiting = self.status in ("RECRUITING", "NOT_YET_RECRUITING")
        official = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}, MD"
        out: dict[str, Any] = {}
        if recruiting:
            out["centralContacts"] = [{"name": rng.choice(["Clinical Trials Information Desk", "Study Contact", official]),
                                       "role": "CONTACT", "phone": f"555-{rng.randrange(100, 999)}-{rng.randrange(1000, 9999)}",
                                       "email": "trials@example.com"}]
        out["overallOfficials"] = [{"name": official, "affiliation": site,
                                    "role": "PRINCIPAL_INVESTIGATOR" if self.academic else "STUDY_DIRECTOR"}]
        locs = []
        short = site.split()[0]
        budget = 30
        for c, k in zip(self.geo["countries"], self.geo["sites"]):
            cities = COUNTRIES[c][2]
            for _ in range(min(k, budget)):
                city, state, zip_code, lat, lon = cities[rng.randrange(len(cities))]
                fac = FACILITY_STYLES[rng.randrange(len(FACILITY_STYLES))].format(city=city, sponsor_short=short)
                loc: dict[str, Any] = {"facility": fac}
                if recruiting:
                    loc["status"] = "RECRUITING" if self.status == "RECRUITING" else "NOT_YET_RECRUITING"
                loc["city"] = city
                if state:
                    loc["state"] = state
                loc["zip"] = zip_code
                loc["country"] = c
                loc["geoPoint"] = {"lat": lat, "lon": lon}
                locs.append(loc)
            budget -= min(k, budget)
        out["locations"] = locs
        return out
