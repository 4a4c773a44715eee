"""CheckAurora step of runbooks/restore-drill.yaml (aws:executeScript, python3.11).

Fails only when it cannot check; what it found goes out as `Checks` (JSON) for the report,
where a failed check fails the drill.
"""
import json

import boto3

# scratch_names, iso and parse_time: restore_common.py, inlined before this.


def check_aurora(events, context):
    """Runs the database check (a Lambda in the VPC: the scratch cluster is private)."""
    names = scratch_names(events)
    region = events["Region"]
    rds = boto3.client("rds", region_name=region)
    cluster = rds.describe_db_clusters(DBClusterIdentifier=names["cluster"])["DBClusters"][0]
    response = boto3.client("lambda", region_name=region).invoke(
        FunctionName=events["CheckFunction"],
        InvocationType="RequestResponse",
        Payload=json.dumps(
            {
                "scratchEndpoint": cluster["Endpoint"],
                "snapshotTime": events["SnapshotTime"],
                "windowHours": int(events["WindowHours"]),
            }
        ).encode("utf-8"),
    )
    body = response.get("Payload")
    body = body.read() if hasattr(body, "read") else body
    result = json.loads(body) if isinstance(body, (bytes, str)) else (body or {})
    if response.get("FunctionError"):
        raise Exception("the restore check failed: " + str(result.get("errorType")) + ": " + str(result.get("errorMessage")))
    checks = [dict(c, name="Aurora: " + c["name"]) for c in result["checks"]]
    return {
        "Checks": json.dumps(checks),
        "Passed": bool(result["passed"]),
        "NewestPayment": result.get("newestPayment") or "",
    }
