"""Report step of the drill runbooks (aws:executeScript, python3.11): reads the automation
execution (steps, times, failures, parameters, who started it) and the workflow runs it
started, and hands the drill's report (functions/reports/shared/model.ts) to this region's
report writer, which stores it and adds it to the DR ledger."""
import json
from datetime import datetime, timezone

import boto3

STATUS = {"Success": "succeeded", "Failed": "failed", "TimedOut": "failed", "Cancelled": "failed"}


def iso(value):
    if value is None or isinstance(value, str):
        return value
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def seconds_between(start, end):
    parse = lambda t: datetime.fromisoformat(t.replace("Z", "+00:00"))  # noqa: E731
    return round((parse(end) - parse(start)).total_seconds(), 2)


def report_steps(planned, executions):
    """The planned steps in order: those that ran with their times, the others skipped."""
    ran = {}
    for step in executions:
        ran.setdefault(step["StepName"], step)
    steps = []
    for name in planned:
        step = ran.get(name)
        if step is None:
            steps.append({"name": name, "status": "skipped"})
            continue
        entry = {"name": name, "status": STATUS.get(step.get("StepStatus"), "succeeded")}
        for key, field in (("startedAt", "ExecutionStartTime"), ("endedAt", "ExecutionEndTime")):
            if step.get(field):
                entry[key] = iso(step[field])
        if step.get("FailureMessage"):
            entry["detail"] = step["FailureMessage"][:1000]
        steps.append(entry)
    return steps


def triggered_by(execution):
    """The schedule (EventBridge starts it as the document's own role) or a person."""
    by = execution.get("ExecutedBy") or None
    role = ((execution.get("Parameters") or {}).get("AutomationAssumeRole") or [""])[0].split("/")[-1]
    scheduled = bool(by and role and ("assumed-role/" + role + "/") in by)
    return {"kind": "schedule" if scheduled else "operator", "by": by, "reason": "monthly DR drill" if scheduled else "DR drill started by hand"}


def child_run(sfn, account, run):
    """A workflow run the drill started: its outcome, RTO and RPO (from RecordTimeline)."""
    machine = run["StateMachinePrefix"] + run["Kind"] + "-" + run["Suffix"]
    arn = "arn:aws:states:" + run["Region"] + ":" + account + ":execution:" + machine + ":" + run["ExecutionName"]
    child = {"kind": run["Kind"], "runId": run["ExecutionName"], "region": run["Region"], "outcome": "unknown"}
    try:
        described = sfn.describe_execution(executionArn=arn)
    except Exception as error:  # noqa: BLE001 - the report says the run is unknown
        missing = "ExecutionDoesNotExist" in type(error).__name__ + str(error)
        child["detail"] = "not started" if missing else "could not be read: " + str(error)[:200]
        return child
    status = described.get("status")
    if described.get("startDate"):
        child["startedAt"] = iso(described["startDate"])
    child["outcome"] = {"SUCCEEDED": "succeeded", "RUNNING": "unknown"}.get(status, "failed")
    child["detail"] = "execution " + str(status)
    try:
        output = json.loads(described.get("output") or "{}")
    except ValueError:
        output = {}
    timeline = (output.get("steps") or {}).get("RecordTimeline") or {}
    # RestoreCapacity runs after the run's own report (RecordTimeline) and completion page, so a
    # capacity warning (a reader not added, or the switchover's reader not deleted from the
    # standby) is only in the execution's output: the drill reports it (review 22, M1).
    capacity = (output.get("warnings") or {}).get("RestoreCapacity")
    if isinstance(capacity, dict):
        child["capacityWarning"] = (str(capacity.get("Error", "Error")) + ": " + str(capacity.get("Cause", ""))[:300]).strip()
    if isinstance(timeline.get("rtoSeconds"), (int, float)):
        child["rtoSeconds"] = timeline["rtoSeconds"]
    if isinstance(timeline.get("rpoEstimateMs"), (int, float)):
        child["rpoSeconds"] = timeline["rpoEstimateMs"] / 1000
    return child


def step_output(executions, step, name):
    """The first value of a step's output ({"Name": ["value"]})."""
    for execution in executions:
        if execution.get("StepName") == step:
            values = (execution.get("Outputs") or {}).get(name) or []
            return values[0] if values else None
    return None


def span(steps, spec):
    """`First:Last` -> (start of First, seconds to the end of Last) when both ran."""
    first, last = (next((s for s in steps if s["name"] == n), {}) for n in spec.split(":"))
    if not first.get("startedAt") or not last.get("endedAt") or last.get("status") != "succeeded":
        return None, None
    return first["startedAt"], seconds_between(first["startedAt"], last["endedAt"])


def build_report(events, execution, children, now):
    """The drill's report (pure: the automation execution and its runs in, the report out)."""
    executions = execution.get("StepExecutions") or []
    steps = report_steps([n for n in events["PlannedSteps"].split(",") if n], executions)
    failed = [s for s in steps if s["status"] == "failed"]
    checks = []
    for step in [s for s in (events.get("CheckSteps") or "").split(",") if s]:
        checks += json.loads(step_output(executions, step, "Checks") or "[]")
    failed_checks = [c for c in checks if not c["passed"]]
    outcome = "failed" if events["Path"] == "failed" or failed or failed_checks else "succeeded"
    parameters = {k: (v[0] if isinstance(v, list) and len(v) == 1 else v) for k, v in (execution.get("Parameters") or {}).items()}
    outbound = children[0] if children else {}
    region, execution_id = events["Region"], events["ExecutionId"]
    if outcome == "succeeded":
        summary = events.get("Summary") or (
            "The drill moved the active region to " + outbound.get("region", "?") + " with the "
            + outbound.get("kind", "?") + " workflow and brought it back; every step passed."
        )
    elif failed:
        summary = "The drill failed at " + failed[0]["name"] + ": " + failed[0].get("detail", "no failure message") + "."
    elif failed_checks:
        summary = "The drill failed " + str(len(failed_checks)) + " of its " + str(len(checks)) + " checks: " + "; ".join(c["name"] for c in failed_checks) + "."
    else:
        summary = "The drill failed (" + events["Path"] + " path) without a failed step on record."
    warnings = []
    if str(parameters.get("FailBack", "true")).lower() == "false":
        warnings.append("FailBack was false: the active region stays " + outbound.get("region", "?") + " until someone fails back.")
    for child in children:
        if child["outcome"] != "succeeded" and child.get("detail") != "not started":
            warnings.append(child["kind"] + " run " + child["runId"] + " in " + child["region"] + ": " + child.get("detail", child["outcome"]) + ".")
        if child.get("capacityWarning"):
            warnings.append(child["kind"] + " run " + child["runId"] + " in " + child["region"] + ": capacity not restored (" + child["capacityWarning"] + "); README, Capacity after a failover.")
    leftovers = step_output(executions, "Cleanup", "Leftovers")
    if leftovers:
        warnings.append("The cleanup also deleted what earlier runs left behind: " + leftovers + ".")
    if any(s["name"] == "Cleanup" and s["status"] == "failed" for s in steps):
        warnings.append("The cleanup did not finish: scratch resources may remain; the next restore drill deletes them (runbooks/restore-drill.md).")
    config = {k: (v if isinstance(v, (str, int, float, bool)) or v is None else json.dumps(v)) for k, v in parameters.items() if k != "AutomationAssumeRole"}
    config.update(document=execution.get("DocumentName"), documentVersion=execution.get("DocumentVersion"))
    if events.get("RtoSteps"):
        # A restore drill: RTO from the restore call to a checked database; RPO the copy's age.
        rto_started, rto = span(steps, events["RtoSteps"])
        rpo_text = step_output(executions, *events["RpoOutput"].split("."))
        rpo = float(rpo_text) if rpo_text not in (None, "") else None
        rpo_basis = events.get("RpoBasis", "")
    else:
        rto_started, rto, rpo = outbound.get("startedAt"), outbound.get("rtoSeconds"), outbound.get("rpoSeconds")
        rpo_basis = "the " + outbound.get("kind", "outbound") + " run's estimate: the secondary's replication lag when it began, what an unplanned failover then could have lost"
    measurements = []
    for item in [m for m in (events.get("Measures") or "").split(",") if m]:
        name, spec = item.split("=")
        value = span(steps, spec)[1]
        if value is not None:
            measurements.append({"name": name, "value": value, "unit": "s", **({"limit": int(events["MeasurementLimitSeconds"])} if events.get("MeasurementLimitSeconds") else {})})
    return {
        "kind": events["Kind"],
        "runId": execution_id,
        "region": region,
        "title": events["Title"],
        "outcome": outcome,
        "summary": summary,
        "startedAt": iso(execution.get("ExecutionStartTime")) or now,
        "endedAt": now,
        "trigger": triggered_by(execution),
        "rtoSeconds": rto,
        **({"rtoStartedAt": rto_started} if rto_started and rto is not None else {}),
        "rpoSeconds": rpo,
        "rpoBasis": rpo_basis,
        "steps": steps,
        "checks": checks,
        "measurements": measurements,
        "runs": [{k: v for k, v in c.items() if k not in ("startedAt", "capacityWarning")} for c in children if c.get("detail") != "not started" or outcome == "failed"],
        "warnings": warnings,
        "config": config,
        "links": [{"label": "Automation execution in the Systems Manager console", "url": "https://" + region + ".console.aws.amazon.com/systems-manager/automation/execution/" + execution_id + "?region=" + region}],
    }


def write_drill_report(events, context):
    region = events["Region"]
    execution = boto3.client("ssm", region_name=region).get_automation_execution(AutomationExecutionId=events["ExecutionId"])["AutomationExecution"]
    runs = [
        {"Kind": events[p + "Kind"], "Region": events[p + "Region"], "ExecutionName": events[p + "Execution"], "StateMachinePrefix": events["StateMachinePrefix"], "Suffix": events["Suffix"]}
        for p in ("Outbound", "Back")
        if events.get(p + "Execution")
    ]
    children = []
    if runs:
        account = boto3.client("sts", region_name=region).get_caller_identity()["Account"]
        children = [child_run(boto3.client("stepfunctions", region_name=r["Region"]), account, r) for r in runs]
    report = build_report(events, execution, children, iso(datetime.now(timezone.utc)))
    response = boto3.client("lambda", region_name=region).invoke(
        FunctionName=events["WriterFunction"], InvocationType="RequestResponse", Payload=json.dumps({"action": "write", "report": report}).encode("utf-8")
    )
    body = response.get("Payload")
    body = body.read() if hasattr(body, "read") else body
    result = json.loads(body) if isinstance(body, (bytes, str)) else (body or {})
    if response.get("FunctionError"):
        raise Exception("the report writer failed: " + str(result.get("errorType")) + ": " + str(result.get("errorMessage")))
    location = result.get("location") or {}
    return {"Outcome": report["outcome"], "ReportUrl": location.get("consoleUrl", ""), "ReportUri": location.get("htmlUri", "")}
