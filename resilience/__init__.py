"""Pure parts of radflag's reliability: Redis/Sentinel URLs, restart backoff.

No sockets, no processes, no environment: `worker/` does the I/O with them.
"""
