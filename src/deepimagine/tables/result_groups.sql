-- result_groups and their design arm (build.py: _result_groups).
-- Named statements, loaded by build.sql(file, name); {placeholders} are filled in by build.py.

-- name: t_groups
CREATE TEMP TABLE t_groups AS
WITH g AS (SELECT nct_id, outcome_id, unnest(o.groups) AS g FROM t_om),
dn AS (SELECT nct_id, outcome_id, unnest(coalesce(list_filter(o.denoms, lambda x: lower(x.units) = 'participants'),
                                                 o.denoms)[1].counts) AS c FROM t_om)
SELECT g.nct_id, g.outcome_id, g.g.id AS group_id, g.g.title AS title, g.g.description AS description,
       (SELECT TRY_CAST(num(any_value(dn.c.value)) AS INTEGER) FROM dn
        WHERE dn.nct_id = g.nct_id AND dn.outcome_id = g.outcome_id AND dn.c.groupId = g.g.id) AS n
FROM g

-- name: t_group_arm
CREATE TEMP TABLE t_group_arm AS
WITH gk AS (SELECT DISTINCT nct_id, title, description FROM t_groups),
ak AS (SELECT nct_id, arm_id, label_norm(a.label) AS ln, label_stem(a.label) AS ls, a.description AS adesc FROM t_arms),
gt AS (SELECT nct_id, title, label_norm(title) AS tn FROM (SELECT DISTINCT nct_id, title FROM gk)),
exact AS (  -- the common case, cheap: one arm with the same normalised label
    SELECT gt.nct_id, gt.title, min(ak.arm_id) AS arm_id
    FROM gt JOIN ak ON ak.nct_id = gt.nct_id AND ak.ln = gt.tn
    GROUP BY ALL HAVING count(*) = 1),
rest AS (SELECT gk.*, label_norm(gk.title) AS tn, label_stem(gk.title) AS ts, text_norm(gk.description) AS dn,
                -- 'Placebo->OL CZP', 'X then Y', 'switched to Y': a treatment sequence is not one design arm;
                -- 'Part 1: X + Y, all dose levels', 'Total', 'Pooled': neither is a pooled group
                regexp_matches(lower(coalesce(gk.title, '')), '(->|=>|→|\bthen\b|\bfollowed by\b|\bswitch)')
                OR regexp_matches(lower(coalesce(gk.title, '')),
                                  '(\ball\b|\bpooled\b|\btotal\b|\bcombined\b|\boverall\b|\bentire\b)') AS is_sequence
         FROM gk ANTI JOIN exact USING (nct_id, title)),
cands AS (
    SELECT r.nct_id, r.title, r.description, ak.arm_id,
           CASE WHEN r.tn = ak.ln THEN 5
                WHEN r.dn = text_norm(ak.adesc) THEN 4
                WHEN r.is_sequence THEN NULL
                WHEN r.ts = ak.ls THEN 3.5
                WHEN contains(' ' || r.ts || ' ', ' ' || ak.ls || ' ') THEN 3
                WHEN contains(' ' || ak.ls || ' ', ' ' || r.ts || ' ') THEN 2.5
                WHEN length(text_norm(ak.adesc)) >= 20
                     AND (contains(r.dn, text_norm(ak.adesc)) OR contains(text_norm(ak.adesc), r.dn)) THEN 2
                WHEN jaro_winkler_similarity(r.ts, ak.ls) >= 0.85 THEN 1
           END AS score,
           jaro_winkler_similarity(coalesce(r.ts, ''), coalesce(ak.ls, '')) AS sim
    FROM rest r JOIN ak USING (nct_id)),
best AS (SELECT *, max(score) OVER w AS top FROM cands WHERE score IS NOT NULL
         WINDOW w AS (PARTITION BY nct_id, title, description)),
tier AS (SELECT *, row_number() OVER w AS rn, count(*) OVER (PARTITION BY nct_id, title, description) AS n_tied,
                lead(sim) OVER w AS runner_up
         FROM best WHERE score = top
         WINDOW w AS (PARTITION BY nct_id, title, description ORDER BY sim DESC, arm_id)),
fuzzy AS (SELECT nct_id, title, description, arm_id FROM tier   -- a tie -> no arm, unless clearly best
          WHERE rn = 1 AND (n_tied = 1 OR sim >= runner_up + 0.1))
SELECT gk.nct_id, gk.title, gk.description, e.arm_id FROM gk JOIN exact e USING (nct_id, title)
UNION ALL
SELECT nct_id, title, description, arm_id FROM fuzzy

-- name: result_groups
INSERT INTO result_groups BY NAME
SELECT g.nct_id, g.outcome_id, g.group_id, g.title, g.description, m.arm_id, g.n
FROM t_groups g LEFT JOIN t_group_arm m
     ON m.nct_id = g.nct_id AND m.title IS NOT DISTINCT FROM g.title AND m.description IS NOT DISTINCT FROM g.description
ORDER BY g.nct_id, g.outcome_id, g.group_id
