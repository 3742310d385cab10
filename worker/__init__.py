"""Everything in radflag that does I/O: listener, Celery app and tasks, delivery, store, CLI."""
