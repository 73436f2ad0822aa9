-- DeepImagine registry schema (data/registry.duckdb). One row per the entity named.
-- This file is the contract between the `tables` stage and every later stage.
-- Keys: nct_id everywhere; arm_id / group_id / outcome_id are stable within a study.

CREATE TABLE studies (
    nct_id              VARCHAR PRIMARY KEY,
    brief_title         VARCHAR,
    official_title      VARCHAR,
    brief_summary       VARCHAR,
    overall_status      VARCHAR,
    study_type          VARCHAR,     -- INTERVENTIONAL | OBSERVATIONAL ...
    phase               VARCHAR,     -- phases joined with '/', e.g. 'PHASE2/PHASE3'; NULL if none
    allocation          VARCHAR,
    intervention_model  VARCHAR,
    primary_purpose     VARCHAR,
    masking             VARCHAR,
    enrollment          INTEGER,
    enrollment_type     VARCHAR,
    start_date          DATE,        -- partial dates ('2015-09') -> first of the month
    completion_date     DATE,
    results_first_posted DATE,       -- time-split key; NULL when no results
    has_results         BOOLEAN,
    sponsor             VARCHAR,
    sponsor_class       VARCHAR,
    n_arms              INTEGER,
    n_countries         INTEGER
);

CREATE TABLE conditions (
    nct_id      VARCHAR,
    condition   VARCHAR,             -- as written
    condition_norm VARCHAR,          -- lower-cased, whitespace-collapsed
    mesh_term   VARCHAR              -- NULL when not mapped
);

CREATE TABLE arms (
    nct_id      VARCHAR,
    arm_id      INTEGER,             -- 0-based position in armGroups
    label       VARCHAR,
    arm_type    VARCHAR,             -- EXPERIMENTAL | ACTIVE_COMPARATOR | PLACEBO_COMPARATOR | ...
    description VARCHAR
);

CREATE TABLE interventions (
    nct_id            VARCHAR,
    intervention_id   INTEGER,       -- 0-based position in interventions
    intervention_type VARCHAR,       -- DRUG | BIOLOGICAL | ...
    name              VARCHAR,
    name_norm         VARCHAR,       -- lower-cased, dose/formulation words stripped: the blocking key
    description       VARCHAR,
    other_names       VARCHAR[]
);

CREATE TABLE arm_interventions (
    nct_id          VARCHAR,
    arm_id          INTEGER,
    intervention_id INTEGER
);

CREATE TABLE doses (
    nct_id          VARCHAR,
    arm_id          INTEGER,
    intervention_id INTEGER,         -- source 'intervention': that intervention; source 'arm': the arm's only linked
                                     -- intervention, NULL when the arm links none or several
    source          VARCHAR,         -- 'arm' | 'intervention' (which text it was parsed from)
    text            VARCHAR,         -- the text it was parsed from
    value           DOUBLE,          -- in `unit`
    unit            VARCHAR,         -- normalised: mg, mcg, g, mg/kg, mg/m2, IU, mL, cells, cells/kg, ...
    value_mg        DOUBLE,          -- value converted to mg where the unit allows (mg, mcg, g, ng), else NULL
    frequency       VARCHAR,         -- normalised: QD | BID | TID | QID | QW | Q2W | Q3W | Q4W | QM | ONCE | PRN | NULL
    route           VARCHAR,         -- normalised: oral | iv | sc | im | topical | inhaled | intranasal | ... | NULL
    is_placebo      BOOLEAN,
    -- added by the tables stage (additive):
    dose_index      INTEGER,         -- 0-based position of this dose within `text` (several doses -> several rows)
    value_upper     DOUBLE,          -- upper end of a range ('10-20 mg' -> value 10, value_upper 20), else NULL
    qualifier       VARCHAR          -- 'range' | 'up to' | NULL
);

CREATE TABLE outcomes (
    nct_id          VARCHAR,
    outcome_id      INTEGER,         -- 0-based position in resultsSection outcomeMeasures
    outcome_type    VARCHAR,         -- PRIMARY | SECONDARY | OTHER_PRE_SPECIFIED | POST_HOC
    measure         VARCHAR,         -- title
    description     VARCHAR,
    time_frame      VARCHAR,
    time_weeks      DOUBLE,          -- parsed from time_frame where possible ('Week 52' -> 52)
    unit            VARCHAR,
    param_type      VARCHAR,         -- MEAN | LEAST_SQUARES_MEAN | NUMBER | COUNT_OF_PARTICIPANTS | ...
    dispersion_type VARCHAR,         -- STANDARD_DEVIATION | STANDARD_ERROR | 95% Confidence Interval ... | NULL
    reporting_status VARCHAR
);

CREATE TABLE result_groups (
    nct_id      VARCHAR,
    outcome_id  INTEGER,
    group_id    VARCHAR,             -- e.g. 'OG000'
    title       VARCHAR,
    description VARCHAR,
    arm_id      INTEGER,             -- matched design arm (by label/title/description), NULL if none
    n           INTEGER              -- denominator (participants analysed), NULL if not posted
);

CREATE TABLE measurements (
    nct_id      VARCHAR,
    outcome_id  INTEGER,
    group_id    VARCHAR,
    class_title VARCHAR,             -- NULL when the measure has a single class
    category    VARCHAR,             -- NULL when not categorical
    value_text  VARCHAR,             -- as posted
    value       DOUBLE,              -- NULL if unparseable ('NA', 'ND' ...): see rejects
    spread      DOUBLE,
    lower_limit DOUBLE,
    upper_limit DOUBLE
);

CREATE TABLE analyses (
    nct_id            VARCHAR,
    outcome_id        INTEGER,
    analysis_id       INTEGER,       -- 0-based position within the outcome
    group_ids         VARCHAR[],     -- result groups compared
    p_value_text      VARCHAR,       -- as posted, e.g. '<0.001'
    p_value           DOUBLE,        -- numeric bound ('<0.001' -> 0.001), NULL if unparseable
    p_value_modifier  VARCHAR,       -- '<' | '<=' | '>' | '=' 
    method            VARCHAR,
    param_type        VARCHAR,       -- e.g. 'Mean Difference (Final Values)', 'Odds Ratio (OR)'
    estimate          DOUBLE,
    ci_pct            DOUBLE,
    ci_lower          DOUBLE,
    ci_upper          DOUBLE,
    non_inferiority_type VARCHAR
);

CREATE TABLE countries (
    nct_id  VARCHAR,
    country VARCHAR,
    region  VARCHAR                  -- North America | Europe | Asia | Latin America | Africa | Oceania | Middle East | Other
);

CREATE TABLE eligibility (
    nct_id            VARCHAR PRIMARY KEY,
    sex               VARCHAR,       -- ALL | FEMALE | MALE
    min_age_years     DOUBLE,
    max_age_years     DOUBLE,
    healthy_volunteers BOOLEAN,
    std_ages          VARCHAR[],
    criteria          VARCHAR
);

CREATE TABLE rejects (
    nct_id  VARCHAR,                 -- NULL when the record had no readable id (then `line` says where)
    line    BIGINT,                  -- 1-based line of data/raw/studies.jsonl.gz (NULL for level 'download')
    level   VARCHAR,                 -- 'download' (never reached the studies file) | 'study' (whole study
                                     -- quarantined) | 'value' (one field dropped)
    tbl     VARCHAR,                 -- the table the value would have gone to (value level)
    reason  VARCHAR,                 -- level 'download': '<outcome>: <reason>' (unreadable | quarantined | duplicate)
    detail  VARCHAR                  -- the offending text, truncated; level 'download': where it was (file:line, page/position)
);

-- Where every input item ended up, per stage. download: read = written + duplicate + unreadable +
-- quarantined + over_max_studies (from data/raw/manifest.json; rows with a reason break an outcome down);
-- tables: read (non-blank lines of the studies file) = studies + rejected (study-level, by reason), and
-- tables read = download written.
CREATE TABLE accounting (
    stage   VARCHAR,                 -- 'download' | 'tables'
    outcome VARCHAR,                 -- read | written | duplicate | unreadable | quarantined | over_max_studies | studies | rejected
    reason  VARCHAR,                 -- NULL on a stage total; else the reason (first part) of that outcome
    items   BIGINT
);
