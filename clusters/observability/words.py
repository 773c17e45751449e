"""How rates, lags and shares read, on pages and in alerts alike."""

from __future__ import annotations

MB = 1_000_000  # as on the request forms and the bill


def mbps(bytes_per_second) -> str:
    """12,345,678 B/s → "12.35 MB/s"."""
    return f"{(bytes_per_second or 0) / MB:,.2f} MB/s"


def share(value) -> str:
    """0.8123 → "81 %"."""
    return f"{(value or 0) * 100:,.0f} %"


def lag_duration(seconds) -> str:
    """95 → "95 s", 600 → "10 min", 9000 → "2 h 30 min"."""
    seconds = int(seconds or 0)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
