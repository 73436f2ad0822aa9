-- tables stage 3 (build.py): the normalised tables of schema.sql from the typed structs in `s`.
-- Named statements, loaded by build.sql(file, name); {placeholders} are filled in by build.py.

-- name: t_arms
CREATE TEMP TABLE t_arms AS
SELECT nct_id, line, unnest(range(len(ag))) AS arm_id, unnest(ag) AS a
FROM (SELECT nct_id, line, d.protocolSection.armsInterventionsModule.armGroups AS ag FROM s)

-- name: t_int
CREATE TEMP TABLE t_int AS
SELECT nct_id, line, unnest(range(len(iv))) AS intervention_id, unnest(iv) AS i
FROM (SELECT nct_id, line, d.protocolSection.armsInterventionsModule.interventions AS iv FROM s)

-- name: t_om
CREATE TEMP TABLE t_om AS
SELECT nct_id, line, unnest(range(len(om))) AS outcome_id, unnest(om) AS o
FROM (SELECT nct_id, line, d.resultsSection.outcomeMeasuresModule.outcomeMeasures AS om FROM s)

-- name: countries
INSERT INTO countries BY NAME
SELECT c.nct_id, c.country, coalesce(r.region, 'Other') AS region
FROM (SELECT DISTINCT nct_id, trim(loc.country) AS country
      FROM (SELECT nct_id, unnest(d.protocolSection.contactsLocationsModule.locations) AS loc FROM s)
      WHERE nullif(trim(loc.country), '') IS NOT NULL) c
LEFT JOIN (SELECT lower(country) AS k, any_value(region) AS region FROM country_region GROUP BY 1) r
       ON r.k = lower(c.country)
ORDER BY c.nct_id, c.country

-- name: studies
INSERT INTO studies BY NAME
SELECT s.nct_id,
    d.protocolSection.identificationModule.briefTitle AS brief_title,
    d.protocolSection.identificationModule.officialTitle AS official_title,
    d.protocolSection.descriptionModule.briefSummary AS brief_summary,
    d.protocolSection.statusModule.overallStatus AS overall_status,
    d.protocolSection.designModule.studyType AS study_type,
    nullif(array_to_string(list_filter(d.protocolSection.designModule.phases,
                                       lambda x: x IS NOT NULL AND upper(x) NOT IN ('NA', 'N/A', '')), '/'), '') AS phase,
    d.protocolSection.designModule.designInfo.allocation AS allocation,
    d.protocolSection.designModule.designInfo.interventionModel AS intervention_model,
    d.protocolSection.designModule.designInfo.primaryPurpose AS primary_purpose,
    d.protocolSection.designModule.designInfo.maskingInfo.masking AS masking,
    TRY_CAST(num(d.protocolSection.designModule.enrollmentInfo.count) AS INTEGER) AS enrollment,
    d.protocolSection.designModule.enrollmentInfo.type AS enrollment_type,
    parse_date(d.protocolSection.statusModule.startDateStruct.date) AS start_date,
    parse_date(d.protocolSection.statusModule.completionDateStruct.date) AS completion_date,
    parse_date(d.protocolSection.statusModule.resultsFirstPostDateStruct.date) AS results_first_posted,
    coalesce(TRY_CAST(d.hasResults AS BOOLEAN), d.resultsSection IS NOT NULL) AS has_results,
    d.protocolSection.sponsorCollaboratorsModule.leadSponsor.name AS sponsor,
    d.protocolSection.sponsorCollaboratorsModule.leadSponsor.class AS sponsor_class,
    coalesce(len(d.protocolSection.armsInterventionsModule.armGroups), 0) AS n_arms,
    coalesce(c.n, 0) AS n_countries
FROM s LEFT JOIN (SELECT nct_id, count(*) AS n FROM countries GROUP BY 1) c USING (nct_id)
ORDER BY s.nct_id

-- name: t_cond
CREATE TEMP TABLE t_cond AS
SELECT nct_id, unnest(range(len(cs))) AS cond_idx, unnest(cs) AS condition, n_mesh
FROM (SELECT nct_id, d.protocolSection.conditionsModule.conditions AS cs,
             len(d.derivedSection.conditionBrowseModule.meshes) AS n_mesh FROM s)

-- name: conditions
INSERT INTO conditions BY NAME
WITH cond AS (
    SELECT nct_id, cond_idx, condition, n_mesh,
           nullif(trim(regexp_replace(lower(condition), '\s+', ' ', 'g')), '') AS condition_norm,
           count(*) OVER (PARTITION BY nct_id) AS n_cond
    FROM t_cond WHERE condition IS NOT NULL),
mesh AS (SELECT nct_id, unnest(range(len(ms))) AS pos, unnest(ms).term AS term
         FROM (SELECT nct_id, d.derivedSection.conditionBrowseModule.meshes AS ms FROM s)),
leaf AS (SELECT nct_id, l.name AS term, lower(trim(l.asFound)) AS found
         FROM (SELECT nct_id, unnest(d.derivedSection.conditionBrowseModule.browseLeaves) AS l FROM s)
         WHERE l.asFound IS NOT NULL AND l.name IS NOT NULL),
raw_cands AS (
    SELECT c.nct_id, c.cond_idx, m.term, 4 AS score, length(m.term) AS len
    FROM cond c JOIN mesh m ON m.nct_id = c.nct_id AND lower(m.term) = c.condition_norm
    UNION ALL
    SELECT c.nct_id, c.cond_idx, l.term, 3, length(l.found)
    FROM cond c JOIN leaf l ON l.nct_id = c.nct_id AND l.found = c.condition_norm
    UNION ALL
    SELECT c.nct_id, c.cond_idx, l.term, 2, length(l.found)
    FROM cond c JOIN leaf l ON l.nct_id = c.nct_id AND length(l.found) >= 4
         AND contains(' ' || text_norm(c.condition_norm) || ' ', ' ' || text_norm(l.found) || ' ')
    UNION ALL
    SELECT c.nct_id, c.cond_idx, m.term, 1, 0
    FROM cond c JOIN mesh m ON m.nct_id = c.nct_id WHERE c.n_cond = 1 AND c.n_mesh = 1),
cands AS (  -- prefer terms listed in the study's own meshes, earliest first
    SELECT rc.*, coalesce(-min(m.pos), -1000000) AS mesh_rank
    FROM raw_cands rc LEFT JOIN mesh m ON m.nct_id = rc.nct_id AND m.term = rc.term GROUP BY ALL),
best AS (SELECT nct_id, cond_idx, arg_max(term, (score, len, mesh_rank, term)) AS mesh_term FROM cands GROUP BY 1, 2)
SELECT c.nct_id, c.condition, c.condition_norm, b.mesh_term
FROM cond c LEFT JOIN best b USING (nct_id, cond_idx)
ORDER BY c.nct_id, c.cond_idx

-- name: arms
INSERT INTO arms BY NAME
SELECT nct_id, arm_id, a.label AS label, a.type AS arm_type, a.description AS description
FROM t_arms ORDER BY nct_id, arm_id

-- name: interventions
INSERT INTO interventions BY NAME
SELECT t.nct_id, t.intervention_id, i.type AS intervention_type, i.name AS name, n.out AS name_norm,
       i.description AS description, i.otherNames AS other_names
FROM t_int t LEFT JOIN name_norms n ON n.text = t.i.name
ORDER BY t.nct_id, t.intervention_id

-- name: arm_interventions
INSERT INTO arm_interventions BY NAME
WITH by_label AS (   -- interventions[].armGroupLabels -> arm label
    SELECT t.nct_id, a.arm_id, t.intervention_id
    FROM (SELECT nct_id, intervention_id, unnest(i.armGroupLabels) AS lbl FROM t_int) t
    JOIN t_arms a ON a.nct_id = t.nct_id AND lower(trim(a.a.label)) = lower(trim(t.lbl))),
by_name AS (         -- armGroups[].interventionNames ('Drug: X') -> intervention name
    SELECT a.nct_id, a.arm_id, t.intervention_id
    FROM (SELECT nct_id, arm_id, unnest(a.interventionNames) AS nm FROM t_arms) a
    JOIN t_int t ON t.nct_id = a.nct_id
         AND lower(trim(t.i.name)) = lower(trim(CASE WHEN position(': ' IN a.nm) > 0
                                                     THEN a.nm[position(': ' IN a.nm) + 2:] ELSE a.nm END)))
SELECT DISTINCT nct_id, arm_id, intervention_id FROM (SELECT * FROM by_label UNION ALL SELECT * FROM by_name)
ORDER BY nct_id, arm_id, intervention_id

-- name: eligibility
INSERT INTO eligibility BY NAME
SELECT nct_id, e.sex AS sex, age_years(e.minimumAge) AS min_age_years, age_years(e.maximumAge) AS max_age_years,
       TRY_CAST(e.healthyVolunteers AS BOOLEAN) AS healthy_volunteers, e.stdAges AS std_ages,
       e.eligibilityCriteria AS criteria
FROM (SELECT nct_id, d.protocolSection.eligibilityModule AS e FROM s) WHERE e IS NOT NULL
ORDER BY nct_id

-- name: eligibility_rejects
INSERT INTO rej
SELECT nct_id, line, 'value', 'eligibility', 'unparseable age', k || ': ' || cut(v)
FROM (SELECT s.nct_id, s.line, unnest(['minimumAge', 'maximumAge']) AS k,
             unnest([d.protocolSection.eligibilityModule.minimumAge, d.protocolSection.eligibilityModule.maximumAge]) AS v
      FROM s)
WHERE NOT age_absent(v) AND age_years(v) IS NULL

-- name: outcomes
INSERT INTO outcomes BY NAME
SELECT t.nct_id, t.outcome_id, o.type AS outcome_type, o.title AS measure, o.description AS description,
       o.timeFrame AS time_frame, w.out AS time_weeks, o.unitOfMeasure AS unit, o.paramType AS param_type,
       o.dispersionType AS dispersion_type, o.reportingStatus AS reporting_status
FROM t_om t LEFT JOIN time_weeks w ON w.text = t.o.timeFrame
ORDER BY t.nct_id, t.outcome_id

-- name: t_meas
CREATE TEMP TABLE t_meas AS
WITH c AS (SELECT nct_id, line, outcome_id, unnest(o.classes) AS cl FROM t_om),
cat AS (SELECT nct_id, line, outcome_id, cl.title AS class_title, unnest(cl.categories) AS ca FROM c)
SELECT nct_id, line, outcome_id, class_title, ca.title AS category, unnest(ca.measurements) AS m FROM cat

-- name: measurements
INSERT INTO measurements BY NAME
SELECT nct_id, outcome_id, m.groupId AS group_id, class_title, category, m.value AS value_text,
       num(m.value) AS value, num(m.spread) AS spread, num(m.lowerLimit) AS lower_limit, num(m.upperLimit) AS upper_limit
FROM t_meas

-- name: measurement_rejects
INSERT INTO rej
SELECT nct_id, line, 'value', 'measurements', 'unparseable measurement value',
       'outcome ' || outcome_id || ' ' || coalesce(m.groupId, '?') || ': ' || cut(m.value)
FROM t_meas WHERE m.value IS NOT NULL AND num(m.value) IS NULL

-- name: t_an
CREATE TEMP TABLE t_an AS
SELECT nct_id, line, outcome_id, unnest(range(len(o.analyses))) AS analysis_id, unnest(o.analyses) AS a FROM t_om

-- name: analyses
INSERT INTO analyses BY NAME
SELECT nct_id, outcome_id, analysis_id, a.groupIds AS group_ids, a.pValue AS p_value_text,
       CASE WHEN num(pv.number) BETWEEN 0 AND 1 THEN num(pv.number) END AS p_value,
       CASE WHEN num(pv.number) BETWEEN 0 AND 1 THEN coalesce(nullif(pv.modifier, ''), '=') END AS p_value_modifier,
       a.statisticalMethod AS method, a.paramType AS param_type, num(a.paramValue) AS estimate,
       num(a.ciPctValue) AS ci_pct, num(a.ciLowerLimit) AS ci_lower, num(a.ciUpperLimit) AS ci_upper,
       a.nonInferiorityType AS non_inferiority_type
FROM (SELECT *, pv_parts(a.pValue) AS pv FROM t_an)
ORDER BY nct_id, outcome_id, analysis_id

-- name: analysis_rejects
INSERT INTO rej
SELECT nct_id, line, 'value', 'analyses', 'unparseable p-value',
       'outcome ' || outcome_id || ' analysis ' || analysis_id || ': ' || cut(a.pValue)
FROM (SELECT *, pv_parts(a.pValue) AS pv FROM t_an)
WHERE a.pValue IS NOT NULL AND NOT coalesce(num(pv.number) BETWEEN 0 AND 1, false)
UNION ALL
SELECT nct_id, line, 'value', 'analyses', 'unparseable estimate',
       'outcome ' || outcome_id || ' analysis ' || analysis_id || ': ' || cut(a.paramValue)
FROM t_an WHERE a.paramValue IS NOT NULL AND num(a.paramValue) IS NULL

-- name: rejects
INSERT INTO rejects BY NAME
SELECT nct_id, line, level, tbl, reason, detail FROM rej
ORDER BY line, level, tbl NULLS FIRST, reason, detail

-- name: study_value_rejects
INSERT INTO rej
SELECT nct_id, line, 'value', 'studies', 'unparseable enrollment', cut(v)
FROM (SELECT nct_id, line, d.protocolSection.designModule.enrollmentInfo.count AS v FROM s)
WHERE v IS NOT NULL AND TRY_CAST(num(v) AS INTEGER) IS NULL
UNION ALL
SELECT nct_id, line, 'value', 'studies', 'unparseable date', k || ': ' || cut(v)
FROM (SELECT nct_id, line, unnest(['start_date', 'completion_date', 'results_first_posted']) AS k,
             unnest([d.protocolSection.statusModule.startDateStruct.date,
                     d.protocolSection.statusModule.completionDateStruct.date,
                     d.protocolSection.statusModule.resultsFirstPostDateStruct.date]) AS v FROM s)
WHERE v IS NOT NULL AND parse_date(v) IS NULL
