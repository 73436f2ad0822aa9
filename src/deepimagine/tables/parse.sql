-- tables stage 1 and 2 (build.py): the lines of studies.jsonl.gz, one typed struct per study, study-level rejects.
-- Named statements, loaded by build.sql(file, name); {placeholders} are filled in by build.py.

-- name: lines
CREATE OR REPLACE TEMP TABLE lines AS
SELECT txt   -- in file order (preserve_insertion_order): line = rowid + 1
FROM read_csv({src}, columns={'txt': 'VARCHAR'}, delim={delim}, quote='', escape='', header=false,
              auto_detect=false, max_line_size={max_line_size}, buffer_size={buffer_size},
              strict_mode=false, null_padding=true,
              compression='{compression}')

-- name: parsed
CREATE TEMP TABLE s AS
SELECT line, status, CASE WHEN status = 'invalid JSON' THEN cut(txt) WHEN status = 'invalid UTF-8' THEN bad_detail
                          WHEN status = 'ok' AND nct_raw IS NOT NULL AND NOT nct_ok THEN cut(nct_raw) END AS detail,
       CASE WHEN status = 'ok' AND nct_ok THEN nct_raw END AS nct_id,
       status = 'ok' AND nct_raw IS NOT NULL AND NOT nct_ok AS malformed_id,
       status = 'ok' AND d.FullStudiesResponse IS NOT NULL AS legacy, d
FROM (
    SELECT line, txt, d, bad_detail, d.protocolSection.identificationModule.nctId AS nct_raw,
           -- an nctId is a JSON string like NCT01234567: a number or an object never matches
           coalesce(regexp_full_match(d.protocolSection.identificationModule.nctId, 'NCT[0-9]{8}'), false) AS nct_ok,
           CASE
        WHEN bad_detail IS NOT NULL THEN 'invalid UTF-8'
        WHEN blank THEN 'blank'
        WHEN d IS NULL THEN 'invalid JSON'
        WHEN NOT is_object THEN 'not a JSON object'
        ELSE 'ok' END AS status
    FROM (SELECT line, txt, try(json_transform(txt, {structure})) AS d,
                 (SELECT any_value(b.detail) FROM bad_lines b WHERE b.line = l.line) AS bad_detail,
                 CASE WHEN txt IS NULL THEN true WHEN strlen(txt) > 256 THEN false ELSE trim(txt) = '' END AS blank,
                 starts_with(ltrim(left(txt, 256)), '{') AS is_object
          FROM (SELECT rowid + 1 AS line, txt FROM lines) l))

-- name: line_status
CREATE TEMP TABLE line_status AS
SELECT line, status, nct_id, legacy, malformed_id,
       CASE WHEN status = 'ok' AND NOT legacy AND nct_id IS NOT NULL
            THEN row_number() OVER (PARTITION BY nct_id, (status = 'ok' AND NOT legacy AND nct_id IS NOT NULL) ORDER BY line) END AS rk,
       CASE WHEN status = 'ok' AND NOT legacy AND nct_id IS NOT NULL
            THEN min(line) OVER (PARTITION BY nct_id, (status = 'ok' AND NOT legacy AND nct_id IS NOT NULL)) END AS first_line
FROM s

-- name: study_rejects
CREATE TEMP TABLE rej AS
SELECT NULL::VARCHAR AS nct_id, line, 'study' AS level, NULL::VARCHAR AS tbl, status AS reason, detail
FROM s WHERE status IN ('invalid JSON', 'not a JSON object', 'invalid UTF-8')
UNION ALL
SELECT NULL, line, 'study', NULL, 'unreadable gzip', detail FROM bad_lines WHERE reason = 'unreadable gzip'
UNION ALL
SELECT NULL, line, 'study', NULL, 'legacy v1 format (FullStudiesResponse)', NULL FROM line_status WHERE legacy
UNION ALL
SELECT NULL, s.line, 'study', NULL, 'malformed nctId', s.detail
FROM s JOIN line_status l USING (line) WHERE l.malformed_id AND NOT l.legacy
UNION ALL
SELECT NULL, line, 'study', NULL, 'missing nctId', NULL
FROM line_status WHERE status = 'ok' AND NOT legacy AND nct_id IS NULL AND NOT malformed_id
UNION ALL
SELECT nct_id, line, 'study', NULL, 'duplicate nctId', 'first seen at line ' || first_line
FROM line_status WHERE rk > 1

-- name: wrong_type_rejects
INSERT INTO rej
SELECT s.nct_id, s.line, 'value', {tbl}, 'wrong type: ' || {field} || ' is ' || t.jt
       || ', expected ARRAY', cut(json_extract(l.txt, {path}))
FROM s JOIN (SELECT rowid + 1 AS line, txt FROM lines) l USING (line)
CROSS JOIN LATERAL (SELECT json_type(l.txt, {path}) AS jt) t
WHERE {parent} IS NOT NULL AND {child} IS NULL
  AND t.jt IS NOT NULL AND t.jt NOT IN ('ARRAY', 'NULL')
