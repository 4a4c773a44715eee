"""Starts a payments-dr workflow in a region and waits for it to end (aws:executeScript, python3.11).

Idempotent: the execution name is fixed per drill step, so a retried step watches the run it
already started instead of starting a second one.
"""
import datetime
import json
import time
import boto3

TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")

def run_workflow(events, context):
    region = events["Region"]
    sfn = boto3.client("stepfunctions", region_name=region)
    account = boto3.client("sts", region_name=region).get_caller_identity()["Account"]
    machine = events["StateMachinePrefix"] + events["Workflow"] + "-" + events["Suffix"]
    machine_arn = "arn:aws:states:" + region + ":" + account + ":stateMachine:" + machine
    name = events["ExecutionName"]
    execution_arn = "arn:aws:states:" + region + ":" + account + ":execution:" + machine + ":" + name
    body = {"targetRegion": region, "reason": "scheduled DR drill " + name, "trigger": "drill"}
    if events.get("DrillId"):
        # Both runs of one drill carry its id: the failback is not refused for the cooldown of
        # the drill's own switchover, any other run still is.
        body["drillId"] = events["DrillId"]
    started = time.time()
    try:
        sfn.start_execution(stateMachineArn=machine_arn, name=name, input=json.dumps(body))
    except sfn.exceptions.ExecutionAlreadyExists:
        pass  # a retried step watches the run it already started
    deadline = started + int(events["TimeoutSeconds"])
    while True:
        execution = sfn.describe_execution(executionArn=execution_arn)
        status = execution["status"]
        if status in TERMINAL:
            break
        if time.time() > deadline:
            raise Exception(machine + " still " + status + " after " + str(events["TimeoutSeconds"]) + " s: " + execution_arn)
        time.sleep(5)
    if status != "SUCCEEDED":
        raise Exception(machine + " ended " + status + ": " + execution_arn)
    return {"ExecutionArn": execution_arn, "Status": status, "Seconds": _execution_seconds(execution, started)}


def _when(value):
    """DescribeExecution's startDate/stopDate: a datetime from boto3 (an ISO string in tests)."""
    if isinstance(value, str):
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def _execution_seconds(execution, started):
    # The execution's own duration (review 23b, L3): a retried step re-attaches to the execution
    # its first attempt started, so this attempt's clock would report only its own watch.
    # DescribeExecution gives startDate, and stopDate once it ended
    # (https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html).
    start, stop = execution.get("startDate"), execution.get("stopDate")
    if start is not None and stop is not None:
        return int((_when(stop) - _when(start)).total_seconds())
    return int(time.time() - started)
