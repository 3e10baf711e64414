"""Tools an operator runs against a real AWS account (`make verify`), and what they share with the local emulator:
the declaration of every call each role's code makes (`access`), the IAM policy evaluator (`iam`) and the template
read offline (`stack`). Nothing here imports local/ (tests/test_import_graph.py): the emulator builds on these, never
the other way round."""
