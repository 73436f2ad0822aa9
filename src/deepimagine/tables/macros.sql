-- Temporary macros the tables build uses (build.py runs this file whole, after schema.sql).
CREATE OR REPLACE TEMP MACRO parse_date(x) AS coalesce(
    try_strptime(trim(x), '%Y-%m-%d')::DATE, try_strptime(trim(x), '%Y-%m')::DATE, try_strptime(trim(x), '%Y')::DATE,
    try_strptime(trim(x), '%B %d, %Y')::DATE, try_strptime(trim(x), '%B %Y')::DATE);
CREATE OR REPLACE TEMP MACRO num(x) AS CASE
    WHEN regexp_matches(trim(x), '^[-+]?([0-9][0-9,]*\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$')
    THEN TRY_CAST(replace(trim(x), ',', '') AS DOUBLE) END;
CREATE OR REPLACE TEMP MACRO age_years(x) AS
    TRY_CAST(regexp_extract(lower(trim(x)), '^([0-9]+(?:\.[0-9]+)?)\s*(year|month|week|day|hour|minute)s?$', 1) AS DOUBLE)
    / CASE regexp_extract(lower(trim(x)), '^([0-9]+(?:\.[0-9]+)?)\s*(year|month|week|day|hour|minute)s?$', 2)
        WHEN 'year' THEN 1.0 WHEN 'month' THEN 12.0 WHEN 'week' THEN 52.1775 WHEN 'day' THEN 365.25
        WHEN 'hour' THEN 8766.0 WHEN 'minute' THEN 525960.0 END;
CREATE OR REPLACE TEMP MACRO age_absent(x) AS x IS NULL OR upper(trim(x)) IN ('', 'N/A', 'NA', 'NONE');
CREATE OR REPLACE TEMP MACRO pv_parts(x) AS regexp_extract(
    replace(replace(replace(trim(x), '≤', '<='), '≥', '>='), ' ', ''),
    '^(?:[pP]\s*)?(<=|>=|<|>|=)?([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)$', ['modifier', 'number']);
CREATE OR REPLACE TEMP MACRO label_norm(x) AS nullif(trim(regexp_replace(regexp_replace(lower(coalesce(x, '')),
    '\([^)]*\)', ' ', 'g'), '[^a-z0-9]+', ' ', 'g')), '');
CREATE OR REPLACE TEMP MACRO label_stem(x) AS regexp_replace(label_norm(x), '([a-z]{3,}[^s])s\b', '\1', 'g');
CREATE OR REPLACE TEMP MACRO text_norm(x) AS nullif(trim(regexp_replace(lower(coalesce(x, '')), '[^a-z0-9]+', ' ', 'g')), '');
CREATE OR REPLACE TEMP MACRO cut(x) AS left(CAST(x AS VARCHAR), 200);
