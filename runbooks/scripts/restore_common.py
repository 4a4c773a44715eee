"""Restore drill: shared by its scripts, inlined before each, so every step (the cleanup too)
derives the same scratch names from the automation execution id."""
from datetime import datetime, timezone


def scratch_names(events):
    run = events["ExecutionId"].replace("-", "")[:8].lower()
    base = events["ScratchPrefix"] + "-" + run
    return {"cluster": base, "instance": base + "-1", "table": events["TablePrefix"] + "-" + run, "canary": "restore-canary-" + run}


def iso(value):
    if value is None or isinstance(value, str):
        return value
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def parse_time(value):
    return datetime.fromisoformat(iso(value).replace("Z", "+00:00"))
