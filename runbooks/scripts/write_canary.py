"""WriteCanary step of runbooks/restore-drill.yaml (aws:executeScript, python3.11)."""
import secrets
from datetime import datetime, timedelta, timezone

import boto3

# scratch_names, iso and parse_time: restore_common.py, inlined before this.


def write_canary(events, context):
    """Writes a known item into the live table (its replica here) before the restore point.

    What the restored table must hold: this item, byte for byte. It expires by itself (TTL)
    and the cleanup deletes it.
    """
    names = scratch_names(events)
    now = datetime.now(timezone.utc)
    nonce = secrets.token_hex(16)
    dynamodb = boto3.client("dynamodb", region_name=events["Region"])
    dynamodb.put_item(
        TableName=events["TableName"],
        Item={
            "pk": {"S": names["canary"]},
            "nonce": {"S": nonce},
            "writtenAt": {"S": iso(now)},
            "drill": {"S": events["ExecutionId"]},
            "expiresAt": {"N": str(int((now + timedelta(days=7)).timestamp()))},
        },
    )
    return {"CanaryKey": names["canary"], "CanaryNonce": nonce, "CanaryWrittenAt": iso(now)}
