"""aurora-sor's Glue job: publish an RDS/Aurora snapshot export as dated SOR tables in the Glue Data Catalog.

Data flows one way: arguments (config) -> plan (plan, partitioned, names) -> per table (publish_table): footers
(s3_reads) -> types and columns (column_types, restore, restore_transform) -> copy (copy_day) or rewrite (rewrite,
typed_table) -> verify -> catalog table and partition (catalog_definitions, catalog_writes) -> retention -> manifest
+ metrics -> one JSON summary line on stdout (run). Contracts: docs/contracts.md. Facts about AWS: docs/aws-facts.md
(cited as [FACTS <section>]).

The package depends only on boto3 and pyarrow (and pyspark for the rewrite), which the Glue 5.x runtime provides.
Glue runs it as one script, glue/dist/sor_job.py, generated from this package by local/build/job_bundle.py
(docs/sor-job.md "How the job ships"): `sam deploy` uploads only a Glue job's Command.ScriptLocation.
"""
