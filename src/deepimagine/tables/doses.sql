-- doses from arm and intervention texts, parsed in Python once per distinct text (build.py: _doses).
-- Named statements, loaded by build.sql(file, name); {placeholders} are filled in by build.py.

-- name: dose_texts
SELECT DISTINCT t FROM (
    SELECT a.description AS t FROM t_arms UNION ALL SELECT a.label FROM t_arms
    UNION ALL SELECT i.name FROM t_int UNION ALL SELECT i.description FROM t_int)
WHERE t IS NOT NULL ORDER BY 1

-- name: dose_text
CREATE TEMP TABLE dose_text AS
SELECT text, count(dose_index) AS n_doses, bool_or(looks_like_dose) AS looks_like_dose FROM dose_parsed GROUP BY 1

-- name: arm_dose_src
CREATE TEMP TABLE arm_dose_src AS
WITH links AS (SELECT nct_id, arm_id, count(*) AS n_links, min(intervention_id) AS only_id
               FROM arm_interventions GROUP BY 1, 2),
drug_arm AS (SELECT DISTINCT ai.nct_id, ai.arm_id FROM arm_interventions ai
             JOIN interventions i USING (nct_id, intervention_id)
             WHERE i.intervention_type IN ('DRUG', 'BIOLOGICAL', 'COMBINATION_PRODUCT'))
SELECT a.nct_id, a.line, a.arm_id,
       CASE WHEN coalesce(dd.n_doses, 0) > 0 THEN a.a.description
            WHEN coalesce(dl.n_doses, 0) > 0 THEN a.a.label END AS dose_text,
       coalesce(a.a.description, a.a.label) AS main_text,
       coalesce(dd.looks_like_dose, dl.looks_like_dose, false) AS looks_like_dose,
       CASE WHEN l.n_links = 1 THEN l.only_id END AS intervention_id,
       (da.arm_id IS NOT NULL OR (l.n_links IS NULL AND a.a.type IN ('EXPERIMENTAL', 'ACTIVE_COMPARATOR'))) AS is_drug_arm
FROM t_arms a
LEFT JOIN dose_text dd ON dd.text = a.a.description
LEFT JOIN dose_text dl ON dl.text = a.a.label
LEFT JOIN links l ON l.nct_id = a.nct_id AND l.arm_id = a.arm_id
LEFT JOIN drug_arm da ON da.nct_id = a.nct_id AND da.arm_id = a.arm_id

-- name: int_dose_src
CREATE TEMP TABLE int_dose_src AS
SELECT t.nct_id, ai.arm_id, t.intervention_id,
       CASE WHEN coalesce(dn.n_doses, 0) > 0 THEN t.i.name
            WHEN coalesce(dd.n_doses, 0) > 0 THEN t.i.description END AS dose_text
FROM t_int t
LEFT JOIN arm_interventions ai ON ai.nct_id = t.nct_id AND ai.intervention_id = t.intervention_id
LEFT JOIN dose_text dn ON dn.text = t.i.name
LEFT JOIN dose_text dd ON dd.text = t.i.description

-- name: doses
INSERT INTO doses BY NAME
SELECT * EXCLUDE (src_order) FROM (
    SELECT s.nct_id, s.arm_id, s.intervention_id, 'arm' AS source, s.dose_text AS text, p.dose_index,
           p.value, p.unit, p.value_mg, p.frequency, p.route, p.is_placebo, p.value_upper, p.qualifier, 0 AS src_order
    FROM arm_dose_src s JOIN dose_parsed p ON p.text = s.dose_text AND p.dose_index IS NOT NULL
    UNION ALL
    SELECT s.nct_id, s.arm_id, s.intervention_id, 'intervention', s.dose_text, p.dose_index,
           p.value, p.unit, p.value_mg, p.frequency, p.route, p.is_placebo, p.value_upper, p.qualifier, 1
    FROM int_dose_src s JOIN dose_parsed p ON p.text = s.dose_text AND p.dose_index IS NOT NULL)
ORDER BY nct_id, arm_id NULLS LAST, src_order, intervention_id NULLS FIRST, dose_index

-- name: dose_rejects
INSERT INTO rej
SELECT nct_id, line, 'value', 'doses', 'unparseable dose', 'arm ' || arm_id || ': ' || cut(main_text)
FROM arm_dose_src WHERE dose_text IS NULL AND is_drug_arm AND looks_like_dose
