"""The job's entry: `python -m sor_job <arguments>` from glue/, and the last lines of the shipped script
glue/dist/sor_job.py. The same command line runs in Glue and on a laptop; AWS_ENDPOINT_URL points every client at an
emulator.

    python -m sor_job --export_uri s3://<bucket>/<prefix>/<export id>/ \
        --sor_bucket <bucket> --catalog_database <db> --ingestion_date YYYY-MM-DD [options]
"""

from sor_job.run import main

if __name__ == "__main__":
    # A successful run just ends (the ordinary end of a script, success under any launcher); a failed one raises
    # SystemExit with its code, never os._exit, so stdout is flushed and the launcher sees the exit. Whether Glue 5
    # ends a glueetl run SUCCEEDED on an explicit sys.exit(0) without a Spark context is not documented.
    exit_code = main()
    if exit_code:
        raise SystemExit(exit_code)
