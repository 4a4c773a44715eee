"""WriteReport steps of the drill runbooks (aws:executeScript, python3.11).

Reads the automation execution itself (its steps with their times and failures, its parameters,
who started it), the workflow runs it started, and hands the drill's report to the report
writer of this region, which stores it and adds it to the ledger. The report is data
(functions/reports/shared/model.ts); the writer renders the page.
"""
import json
from datetime import datetime, timezone

import boto3

STATUS = {"Success": "succeeded", "Failed": "failed", "TimedOut": "failed", "Cancelled": "failed"}


def iso(value):
    """A timestamp from boto3 (datetime) or from JSON (string), as ISO 8601 in UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def seconds_between(start, end):
    a = datetime.fromisoformat(start.replace("Z", "+00:00"))
    b = datetime.fromisoformat(end.replace("Z", "+00:00"))
    return round((b - a).total_seconds(), 2)


def report_steps(planned, step_executions):
    """The planned steps in order: the ones that ran with their times, the others as skipped."""
    ran = {}
    for step in step_executions:
        ran.setdefault(step["StepName"], step)
    steps = []
    for name in planned:
        step = ran.get(name)
        if step is None:
            steps.append({"name": name, "status": "skipped"})
            continue
        entry = {"name": name, "status": STATUS.get(step.get("StepStatus"), "succeeded")}
        if step.get("ExecutionStartTime"):
            entry["startedAt"] = iso(step["ExecutionStartTime"])
        if step.get("ExecutionEndTime"):
            entry["endedAt"] = iso(step["ExecutionEndTime"])
        if step.get("FailureMessage"):
            entry["detail"] = step["FailureMessage"][:1000]
        steps.append(entry)
    return steps


def triggered_by(execution):
    """Who started the drill: the schedule (EventBridge, as the automation role) or a person."""
    by = execution.get("ExecutedBy") or None
    role = ((execution.get("Parameters") or {}).get("AutomationAssumeRole") or [""])[0]
    role_name = role.split("/")[-1]
    scheduled = bool(by and role_name and ("assumed-role/" + role_name + "/") in by)
    return {
        "kind": "schedule" if scheduled else "operator",
        "by": by,
        "reason": "monthly DR drill" if scheduled else "DR drill started by hand",
    }


def child_run(sfn, account, run):
    """One workflow run the drill started, as the report lists it."""
    machine = run["StateMachinePrefix"] + run["Kind"] + "-" + run["Suffix"]
    arn = "arn:aws:states:" + run["Region"] + ":" + account + ":execution:" + machine + ":" + run["ExecutionName"]
    child = {"kind": run["Kind"], "runId": run["ExecutionName"], "region": run["Region"], "outcome": "unknown"}
    try:
        described = sfn.describe_execution(executionArn=arn)
    except Exception as error:  # noqa: BLE001 - any failure: the report says the run is unknown
        child["detail"] = "not started" if "ExecutionDoesNotExist" in type(error).__name__ + str(error) else "could not be read: " + str(error)[:200]
        return child, None
    status = described.get("status")
    if described.get("startDate"):
        child["startedAt"] = iso(described["startDate"])
    child["outcome"] = {"SUCCEEDED": "succeeded", "RUNNING": "unknown"}.get(status, "failed")
    child["detail"] = "execution " + str(status)
    timeline = {}
    try:
        timeline = json.loads(described.get("output") or "{}").get("steps", {}).get("RecordTimeline", {}) or {}
    except ValueError:
        pass
    if isinstance(timeline.get("rtoSeconds"), (int, float)):
        child["rtoSeconds"] = timeline["rtoSeconds"]
    if isinstance(timeline.get("rpoEstimateMs"), (int, float)):
        child["rpoSeconds"] = timeline["rpoEstimateMs"] / 1000
    return child, arn


def build_report(events, execution, children, now):
    """The drill's report (pure: the automation execution and its runs in, the report out)."""
    planned = [name for name in events["PlannedSteps"].split(",") if name]
    steps = report_steps(planned, execution.get("StepExecutions") or [])
    failed = [s for s in steps if s["status"] == "failed"]
    outcome = "failed" if events["Path"] == "failed" or failed else "succeeded"
    parameters = {k: (v[0] if isinstance(v, list) and len(v) == 1 else v) for k, v in (execution.get("Parameters") or {}).items()}
    outbound = children[0] if children else {}
    region = events["Region"]
    execution_id = events["ExecutionId"]
    if outcome == "succeeded":
        summary = (
            "The drill moved the active region to " + outbound.get("region", "?") + " with the "
            + outbound.get("kind", "?") + " workflow and brought it back; every step passed."
        )
    else:
        first = failed[0] if failed else {"name": "an unknown step", "detail": "no failure recorded"}
        summary = "The drill failed at " + first["name"] + ": " + first.get("detail", "no failure message") + "."
    warnings = []
    if str(parameters.get("FailBack", "true")).lower() == "false":
        warnings.append("FailBack was false: the active region stays " + outbound.get("region", "?") + " until someone fails back.")
    for child in children:
        if child["outcome"] != "succeeded" and child.get("detail") != "not started":
            warnings.append(child["kind"] + " run " + child["runId"] + " in " + child["region"] + ": " + child.get("detail", child["outcome"]) + ".")
    config = {k: (v if isinstance(v, (str, int, float, bool)) or v is None else json.dumps(v)) for k, v in parameters.items() if k != "AutomationAssumeRole"}
    config["document"] = execution.get("DocumentName")
    config["documentVersion"] = execution.get("DocumentVersion")
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
        "rtoSeconds": outbound.get("rtoSeconds"),
        **({"rtoStartedAt": outbound["startedAt"]} if outbound.get("startedAt") and outbound.get("rtoSeconds") is not None else {}),
        "rpoSeconds": outbound.get("rpoSeconds"),
        "rpoBasis": "the " + outbound.get("kind", "outbound") + " run's estimate: the secondary's replication lag when it began, what an unplanned failover then could have lost",
        "steps": steps,
        "runs": [
            {k: v for k, v in c.items() if k != "startedAt"}
            for c in children
            if c.get("detail") != "not started" or outcome == "failed"
        ],
        "warnings": warnings,
        "config": config,
        "links": [
            {
                "label": "Automation execution in the Systems Manager console",
                "url": "https://" + region + ".console.aws.amazon.com/systems-manager/automation/execution/" + execution_id + "?region=" + region,
            }
        ],
    }


def invoke_writer(client, function, report):
    """Stores the report through the writer; raises with the writer's own error when it fails."""
    response = client.invoke(
        FunctionName=function,
        InvocationType="RequestResponse",
        Payload=json.dumps({"action": "write", "report": report}).encode("utf-8"),
    )
    body = response.get("Payload")
    body = body.read() if hasattr(body, "read") else body
    result = json.loads(body) if isinstance(body, (bytes, str)) else (body or {})
    if response.get("FunctionError"):
        raise Exception("the report writer failed: " + str(result.get("errorType")) + ": " + str(result.get("errorMessage")))
    return result


def write_drill_report(events, context):
    region = events["Region"]
    ssm = boto3.client("ssm", region_name=region)
    execution = ssm.get_automation_execution(AutomationExecutionId=events["ExecutionId"])["AutomationExecution"]
    children = []
    runs = [
        {
            "Kind": events[prefix + "Kind"],
            "Region": events[prefix + "Region"],
            "ExecutionName": events[prefix + "Execution"],
            "StateMachinePrefix": events["StateMachinePrefix"],
            "Suffix": events["Suffix"],
        }
        for prefix in ("Outbound", "Back")
        if events.get(prefix + "Execution")
    ]
    if runs:
        account = boto3.client("sts", region_name=region).get_caller_identity()["Account"]
        for run in runs:
            sfn = boto3.client("stepfunctions", region_name=run["Region"])
            child, _ = child_run(sfn, account, run)
            children.append(child)
    now = iso(datetime.now(timezone.utc))
    report = build_report(events, execution, children, now)
    result = invoke_writer(boto3.client("lambda", region_name=region), events["WriterFunction"], report)
    location = result.get("location") or {}
    return {"Outcome": report["outcome"], "ReportUrl": location.get("consoleUrl", ""), "ReportUri": location.get("htmlUri", "")}
