"""What turns the source tree into what AWS runs: the Glue job's one script (job_bundle)."""
