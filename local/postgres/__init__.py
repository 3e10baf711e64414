"""A throwaway PostgreSQL server (`pg_server`), a real database read as a snapshot export sees it (`pg_source`), the
ground truth of PostgreSQL's text forms (`pg_text`) and the sample databases (`sample_database`)."""
