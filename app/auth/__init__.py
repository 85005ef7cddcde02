"""Accounts, roles and grants, API tokens and sign-in limits: Rowboat's access control.

Plain modules over the state database, testable without Flask; ``app/web/signin.py`` puts
them in front of every request.
"""
