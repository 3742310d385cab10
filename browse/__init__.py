"""The message browser's pure part: what an operator searches by, and delivery states.

Strategy: the store (worker/message_store.py) filters in SQL by what its
columns hold; a message's delivery state is derived from its delivery attempts
here, so the CLI, the page and the tests classify a message the same way.
Nothing here touches a database, Redis or a socket.
"""

from browse.criteria import (
    DELIVERY_STATES,
    UNDELIVERED_STATES,
    Attempt,
    MessageQuery,
    delivery_state,
    parse_day,
)

__all__ = [
    "DELIVERY_STATES",
    "UNDELIVERED_STATES",
    "Attempt",
    "MessageQuery",
    "delivery_state",
    "parse_day",
]
