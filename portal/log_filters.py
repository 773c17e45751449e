"""Logging filters (wired in settings.LOGGING)."""

from __future__ import annotations

import logging


class OneLineRefusals(logging.Filter):
    """A 403 is the access rule doing its job, not a fault: log it as one line with the reason, without
    the traceback Django attaches to a PermissionDenied (which buried real errors in `make run`'s output)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403 and record.exc_info:
            reason = str(record.exc_info[1] or "").strip()
            if reason:
                record.msg = f"{record.msg}: %s"
                record.args = (*(record.args or ()), reason.splitlines()[0])
            record.exc_info = record.exc_text = None
        return True
