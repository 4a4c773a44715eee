"""RestoreTable step of runbooks/restore-drill.yaml (aws:executeScript, python3.11)."""
import time

import boto3

# scratch_names, iso and parse_time: restore_common.py, inlined before this.


def restore_table(events, context):
    """Restores the table from its replica's point-in-time recovery, to a new table.

    "The recovery process restores to a new DynamoDB table" (DynamoDB, "Restore a table");
    the restore point is the latest restorable time once it has passed the canary's write.
    """
    names = scratch_names(events)
    dynamodb = boto3.client("dynamodb", region_name=events["Region"])
    written = parse_time(events["CanaryWrittenAt"])
    deadline = time.time() + int(events.get("WaitSeconds", 480))
    while True:
        backups = dynamodb.describe_continuous_backups(TableName=events["TableName"])
        pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
        if pitr.get("PointInTimeRecoveryStatus") != "ENABLED":
            raise Exception("point-in-time recovery is " + str(pitr.get("PointInTimeRecoveryStatus")) + " on " + events["TableName"])
        latest = pitr["LatestRestorableDateTime"]
        if parse_time(latest) >= written:
            break
        if time.time() > deadline:
            raise Exception(
                "the latest restorable time " + iso(latest) + " has not reached the canary written at "
                + events["CanaryWrittenAt"]
            )
        time.sleep(15)
    try:
        dynamodb.restore_table_to_point_in_time(
            SourceTableName=events["TableName"],
            TargetTableName=names["table"],
            RestoreDateTime=parse_time(latest),
            BillingModeOverride="PAY_PER_REQUEST",
        )
    except dynamodb.exceptions.TableAlreadyExistsException:
        pass
    return {"RestoredTable": names["table"], "RestoredTo": iso(latest)}
