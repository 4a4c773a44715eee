"""FindRecoveryPoint step of runbooks/restore-drill.yaml (aws:executeScript, python3.11)."""
from datetime import datetime, timezone

import boto3

# scratch_names, iso and parse_time: restore_common.py, inlined before this.


def find_recovery_point(events, context):
    """The newest completed cross-region copy of the primary cluster in this region's vault.

    AWS Backup copies of a continuous backup become snapshots in the destination vault (AWS
    Backup, "Creating backup copies across AWS Regions"); their recovery point ARN is the
    cluster snapshot's, which RestoreDBClusterFromSnapshot takes as is.
    """
    region = events["Region"]
    backup = boto3.client("backup", region_name=region)
    points = []
    token = None
    while True:
        kwargs = {"BackupVaultName": events["VaultName"], "ByResourceArn": events["SourceClusterArn"]}
        if token:
            kwargs["NextToken"] = token
        page = backup.list_recovery_points_by_backup_vault(**kwargs)
        points += page.get("RecoveryPoints", [])
        token = page.get("NextToken")
        if not token:
            break
    # Filtered by the primary cluster's ARN, every recovery point here is a copy from the primary
    # region (the mirror plan backs up this region's own cluster, another ARN).
    copies = [p for p in points if p.get("Status") == "COMPLETED" and p.get("ResourceArn", events["SourceClusterArn"]) == events["SourceClusterArn"]]
    if not copies:
        raise Exception(
            "no completed cross-region copy of " + events["SourceClusterArn"] + " in vault "
            + events["VaultName"] + " (" + str(len(points)) + " recovery points in all): are the copy jobs failing?"
        )
    # Copies keep their source's creation date (AWS Backup); the newest completed copy wins.
    newest = max(copies, key=lambda p: (parse_time(p.get("CompletionDate") or p["CreationDate"]), parse_time(p["CreationDate"])))
    arn = newest["RecoveryPointArn"]
    rds = boto3.client("rds", region_name=region)
    # AWS Backup's snapshots are of type "awsbackup"; asked without a type, RDS may not list one.
    found = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=arn)["DBClusterSnapshots"]
    if not found:
        found = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=arn, SnapshotType="awsbackup")["DBClusterSnapshots"]
    if not found:
        raise Exception("recovery point " + arn + " is not a cluster snapshot RDS can describe")
    snapshot = found[0]
    if snapshot.get("Status") != "available":
        raise Exception("the newest copy " + arn + " is " + str(snapshot.get("Status")) + ", not available")
    now = datetime.now(timezone.utc)
    age = round((now - parse_time(snapshot["SnapshotCreateTime"])).total_seconds())
    limit = int(events["MaxBackupAgeHours"]) * 3600
    if age > limit:
        raise Exception(
            "the newest cross-region copy was taken " + str(round(age / 3600, 1)) + " h ago ("
            + iso(snapshot["SnapshotCreateTime"]) + "), over the " + str(events["MaxBackupAgeHours"])
            + " h limit: copies are not arriving"
        )
    return {
        "SnapshotArn": arn,
        "SnapshotTime": iso(snapshot["SnapshotCreateTime"]),
        "SnapshotAgeSeconds": age,
        "EngineVersion": snapshot["EngineVersion"],
    }
