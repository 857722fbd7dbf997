-- The call index as a MaxCompute external table over OSS (docs/maxcompute.md).
--
-- The index is Hive-partitioned Parquet in the archive bucket, one file per UTC day, rewritten in
-- place by the compaction step:
--     oss://<bucket>/warehouse/calls/dt=YYYY-MM-DD/calls.parquet
-- The columns and their order are shared/archive/index_rows.py COLUMNS (schema version 2: version 1's
-- columns, then the complete record's; day files written before have no such columns: NULL there);
-- tests/unit/test_maxcompute_ddl.py keeps this file equal to them. `dt` is only in the path.
--
-- Replace before running:
--   oss-cn-shanghai-internal.aliyuncs.com  the classic-network (internal) OSS endpoint of the bucket's
--                                          region; MaxCompute must be in the same region
--   <bucket>                               the archive bucket (ARCHIVE_BUCKET)
--   <account-uid>                          the Alibaba Cloud account id that owns the RAM role
--   <role-name>                            the RAM role MaxCompute assumes to read OSS:
--                                          aliyunodpsdefaultrole after one-click authorization, or a
--                                          dedicated read-only role (recommended; policy in docs/maxcompute.md)
--
-- Run in a MaxCompute SQL session (odpscmd, DataWorks ODPS SQL node or the console's SQL editor).
-- Statements in one script share its SET flags; run each query block with its flags.

-- INT, TIMESTAMP, ARRAY and STRUCT are MaxCompute V2.0 data types: enable them for the session
-- (not needed when the project already has odps.sql.type.system.odps2=true).
SET odps.sql.type.system.odps2=true;

-- 1. The table. Column names are quoted because FIELDS is a MaxCompute keyword.
--    TIMESTAMP, not TIMESTAMP_NTZ: Parquet external tables do not support TIMESTAMP_NTZ.
--    'mcfed.parquet.compression' names the compaction step's codec (ZSTD); Parquet readers take
--    the codec from the file itself, the property matters for writes.
CREATE EXTERNAL TABLE IF NOT EXISTS aicall_calls
(
    `instance_id`     STRING,
    `ai_agent_id`     STRING,
    `user_id`         STRING,
    `session_id`      STRING,
    `started_at`      TIMESTAMP,   -- UTC wall time (Parquet INT64 micros, not adjusted to UTC)
    `ended_at`        TIMESTAMP,
    `duration_s`      DOUBLE,
    `turns`           INT,
    `user_turns`      INT,
    `agent_turns`     INT,
    `status`          STRING,      -- archived | analysed | archive_failed | analysis_failed | pending
    `hangup_role`     STRING,      -- agent | user | transfer
    `title`           STRING,
    `summary`         STRING,
    `keywords`        ARRAY<STRING>,
    `satisfaction`    STRING,
    `fields`          ARRAY<STRUCT<code:STRING, value:STRING>>,
    `rules`           ARRAY<STRUCT<title:STRING, result:STRING, reason:STRING>>,   -- result: pass | fail | other
    `failed_rules`    ARRAY<STRING>,
    `profile`         STRING,
    `profile_version` INT,
    `profile_hash`    STRING,
    `profiles`        ARRAY<STRING>,
    `input_tokens`    BIGINT,
    `output_tokens`   BIGINT,
    `total_tokens`    BIGINT,
    `dead_letters`    ARRAY<STRUCT<step:STRING, profile:STRING, error_code:STRING, reason:STRING, at:TIMESTAMP>>,
    `recordings`      INT,
    `redaction_mode`  STRING,
    `transcript_text` STRING,
    `call_log_key`    STRING,
    `analysis_key`    STRING,
    `archived_at`     TIMESTAMP,
    `analysed_at`     TIMESTAMP,
    `updated_at`      TIMESTAMP,
    `schema_version`  INT,
    `completeness`    STRING,      -- complete | incomplete (the reconciled transcript)
    `audio_linked`    INT,
    `llm_p50_ms`      DOUBLE,
    `llm_p95_ms`      DOUBLE,
    `tts_p50_ms`      DOUBLE,
    `tts_p95_ms`      DOUBLE
)
COMMENT 'AICall call index (aicall.calls schema 2), one Parquet file per UTC day'
PARTITIONED BY (dt STRING)
ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'
WITH SERDEPROPERTIES (
    'odps.properties.rolearn'='acs:ram::<account-uid>:role/<role-name>',
    'mcfed.parquet.compression'='ZSTD'
)
STORED AS PARQUET
LOCATION 'oss://oss-cn-shanghai-internal.aliyuncs.com/<bucket>/warehouse/calls/';

-- 2. Partitions. MaxCompute only reads the partitions it knows about.
--    Once, after creating the table: discover every dt=... directory already in OSS.
MSCK REPAIR TABLE aicall_calls ADD PARTITIONS;

--    Then, as new days land (daily, e.g. a scheduled DataWorks ODPS SQL node; dates are UTC):
--      ALTER TABLE aicall_calls ADD IF NOT EXISTS PARTITION (dt='2024-06-30') PARTITION (dt='2024-07-01');
--    In a DataWorks node with the scheduling parameters today=$[yyyy-mm-dd] and yesterday=${yyyy-mm-dd}
--    (run it shortly after 00:00 UTC, 08:xx Asia/Shanghai):
--      ALTER TABLE aicall_calls ADD IF NOT EXISTS PARTITION (dt='${yesterday}') PARTITION (dt='${today}');
--    A day's file that is rewritten later (late analyses, erasures) needs nothing: the partition
--    already points at the directory. Re-run the MSCK above now and then to pick up missed days.
--
--    Check:
SHOW PARTITIONS aicall_calls;

-- 3. Example queries (QA / ops). Each block sets its own flags:
--      odps.sql.type.system.odps2  V2.0 types (see above);
--      odps.sql.timezone=UTC       show and compute times in UTC, like the index and its dt days;
--      odps.ext.parquet.native     the C++ Parquet reader (read-only; supports every type used here).
--    Always filter on dt: it prunes the days read (the table is otherwise a full OSS scan).

-- 3a. Calls per day and the satisfaction mix, over a month.
SET odps.sql.type.system.odps2=true;
SET odps.sql.timezone=UTC;
SET odps.ext.parquet.native=true;
SELECT  dt,
        satisfaction,
        calls,
        SUM(calls) OVER (PARTITION BY dt)                  AS day_calls,
        ROUND(calls / SUM(calls) OVER (PARTITION BY dt), 4) AS share
FROM (
        SELECT  dt,
                COALESCE(satisfaction, '(not rated)') AS satisfaction,
                COUNT(*)                              AS calls
        FROM    aicall_calls
        WHERE   dt BETWEEN '2024-06-01' AND '2024-06-30'
        GROUP BY dt, COALESCE(satisfaction, '(not rated)')
) t
ORDER BY dt, calls DESC
LIMIT 10000;

-- 3b. Failure rate per inspection rule (one row per rule checked in a call).
SET odps.sql.type.system.odps2=true;
SET odps.sql.timezone=UTC;
SET odps.ext.parquet.native=true;
SELECT  r.title                                               AS rule_title,
        COUNT(*)                                              AS checked,
        SUM(IF(r.result = 'fail', 1, 0))                      AS failed,
        ROUND(SUM(IF(r.result = 'fail', 1, 0)) / COUNT(*), 4) AS failure_rate
FROM    aicall_calls c
LATERAL VIEW EXPLODE(c.`rules`) x AS r
WHERE   c.dt BETWEEN '2024-06-01' AND '2024-06-30'
GROUP BY r.title
ORDER BY failure_rate DESC
LIMIT 200;

-- 3c. Calls where an extracted field has a value (here: field code 'order_id' is set).
SET odps.sql.type.system.odps2=true;
SET odps.sql.timezone=UTC;
SET odps.ext.parquet.native=true;
SELECT  c.dt,
        c.instance_id,
        c.ai_agent_id,
        c.started_at,
        f.value AS order_id
FROM    aicall_calls c
LATERAL VIEW EXPLODE(c.`fields`) x AS f
WHERE   c.dt BETWEEN '2024-06-01' AND '2024-06-30'
  AND   f.code = 'order_id'
  AND   f.value IS NOT NULL AND f.value <> ''
ORDER BY c.started_at
LIMIT 10000;

-- 3d. Analysis tokens per agent (calls with an analysis only).
SET odps.sql.type.system.odps2=true;
SET odps.sql.timezone=UTC;
SET odps.ext.parquet.native=true;
SELECT  ai_agent_id,
        COUNT(*)                    AS analysed_calls,
        SUM(input_tokens)           AS sum_input_tokens,
        SUM(output_tokens)          AS sum_output_tokens,
        SUM(total_tokens)           AS sum_total_tokens,
        ROUND(AVG(total_tokens), 1) AS avg_tokens_per_call
FROM    aicall_calls
WHERE   dt BETWEEN '2024-06-01' AND '2024-06-30'
  AND   analysed_at IS NOT NULL
GROUP BY ai_agent_id
ORDER BY sum_total_tokens DESC
LIMIT 1000;
