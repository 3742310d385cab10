"""People and their access: roles, password hashing, session tokens, the login rate limit.

Pure: no database, no web framework; `worker/` stores users and serves pages.
"""
