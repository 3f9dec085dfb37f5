"""Alembic migrations of the wallet schema (a package so ``env.py`` ships with the wheel).

Run them with ``wallet.adapters.sql.upgrade(url)``, or from a checkout with
``alembic -c wallet/adapters/migrations/alembic.ini -x url=sqlite:///wallet.db upgrade head``.
"""
