"""CheckTable step of runbooks/restore-drill.yaml (aws:executeScript, python3.11).

Fails only when it cannot check; what it found goes out as `Checks` (JSON) for the report,
where a failed check fails the drill.
"""
import json

import boto3

# scratch_names, iso and parse_time: restore_common.py, inlined before this.


def _item_text(item):
    """An item as canonical text, to compare restored and live copies byte for byte."""
    return json.dumps(item, sort_keys=True, separators=(",", ":"))


def check_table(events, context):
    """What the restored table must hold: the canary, and the fencing flag as it was then."""
    names = scratch_names(events)
    region = events["Region"]
    dynamodb = boto3.client("dynamodb", region_name=region)
    restored, start = [], None
    while True:
        kwargs = {"TableName": names["table"], "ConsistentRead": True}
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = dynamodb.scan(**kwargs)
        restored += page.get("Items", [])
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    by_key = {item["pk"]["S"]: item for item in restored}
    canary = by_key.get(names["canary"])
    checks = [
        {
            "name": "DynamoDB: the canary written before the restore point",
            "expected": "nonce " + events["CanaryNonce"],
            "actual": "nonce " + canary["nonce"]["S"] if canary else "missing",
            "passed": bool(canary) and canary["nonce"]["S"] == events["CanaryNonce"],
            "basis": "the item this drill wrote at " + events["CanaryWrittenAt"] + ", before the restore point " + events["RestoredTo"],
        }
    ]
    live = dynamodb.get_item(TableName=events["TableName"], Key={"pk": {"S": "active-region"}}, ConsistentRead=True).get("Item")
    copy = by_key.get("active-region")
    if live and live.get("updatedAt", {}).get("S", "") > events["RestoredTo"]:
        checks.append(
            {
                "name": "DynamoDB: the fencing flag (active-region item)",
                "expected": "not compared: changed at " + live["updatedAt"]["S"] + ", after the restore point",
                "actual": _item_text(copy) if copy else "missing",
                "passed": copy is not None,
                "basis": "the live item in this region's replica",
            }
        )
    else:
        checks.append(
            {
                "name": "DynamoDB: the fencing flag (active-region item)",
                "expected": _item_text(live) if live else "missing",
                "actual": _item_text(copy) if copy else "missing",
                "passed": live == copy,
                "basis": "the live item in this region's replica, unchanged since before the restore point",
            }
        )
    source = dynamodb.describe_table(TableName=events["TableName"])["Table"]
    target = dynamodb.describe_table(TableName=names["table"])["Table"]
    source_key = (source.get("SSEDescription") or {}).get("KMSMasterKeyArn")
    target_key = (target.get("SSEDescription") or {}).get("KMSMasterKeyArn")
    checks.append(
        {
            "name": "DynamoDB: encrypted with the source's key",
            "expected": str(source_key),
            "actual": str(target_key),
            "passed": source_key is not None and source_key == target_key,
            "basis": "a PITR restore keeps the source table's encryption settings (RestoreTableToPointInTime)",
        }
    )
    return {"Checks": json.dumps(checks), "Passed": all(c["passed"] for c in checks), "Items": len(restored)}
