"""The AWS side, emulated on this machine: moto in-process (`aws_emulator`) with IAM enforcement (`enforcement`,
evaluated by ops/iam.py against ops/access.py), the template deployed into it (`deploy`), Glue's run of the job
(`job_runner`, under Spark through `spark_env`) and Athena's SQL over the catalog on DuckDB (`athena_duckdb`)."""
