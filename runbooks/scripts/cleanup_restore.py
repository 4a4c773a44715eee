"""Cleanup step of runbooks/restore-drill.yaml (aws:executeScript, python3.11).

Runs on every path, passed or failed: deletes what this run created (the scratch instance and
cluster, the restored table, the canary item) and anything an earlier run left behind (one that
was cancelled before its cleanup). What cannot be deleted yet (still being created) makes the
step fail, so SSM runs it again (maxAttempts); what is gone or going counts as done.
"""
from datetime import datetime, timezone

import boto3

# scratch_names and parse_time: restore_common.py, inlined before this.

RDS_GONE = ("DBClusterNotFoundFault", "DBInstanceNotFoundFault", "DBClusterNotFound", "DBInstanceNotFound")
BUSY = ("creating", "backing-up", "modifying", "renaming", "resetting-master-credentials", "upgrading", "configuring-enhanced-monitoring", "starting", "stopping", "rebooting")


def _name(error):
    return getattr(error, "response", {}).get("Error", {}).get("Code") or type(error).__name__ + ":" + str(error)


def _gone(error, codes):
    text = _name(error)
    return any(code in text for code in codes)


def _age_hours(value):
    if value is None:
        return 0
    return (datetime.now(timezone.utc) - parse_time(value)).total_seconds() / 3600


def delete_cluster(rds, cluster_id, done, pending):
    try:
        cluster = rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]
    except Exception as error:  # noqa: BLE001
        if _gone(error, RDS_GONE):
            done.append("cluster " + cluster_id + " (absent)")
            return
        raise
    if cluster.get("Status") == "deleting":
        done.append("cluster " + cluster_id + " (deleting)")
        return
    members = cluster.get("DBClusterMembers") or []
    for member in members:
        instance_id = member["DBInstanceIdentifier"]
        try:
            instance = rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]
        except Exception as error:  # noqa: BLE001
            if _gone(error, RDS_GONE):
                continue
            raise
        status = instance.get("DBInstanceStatus")
        if status == "deleting":
            continue
        if status in BUSY:
            pending.append("instance " + instance_id + " is " + status)
            continue
        rds.delete_db_instance(DBInstanceIdentifier=instance_id, SkipFinalSnapshot=True)
        done.append("instance " + instance_id)
    if cluster.get("Status") in BUSY:
        pending.append("cluster " + cluster_id + " is " + cluster["Status"])
        return
    try:
        # Allowed once every member is deleting (Aurora deletes the cluster after them).
        rds.delete_db_cluster(DBClusterIdentifier=cluster_id, SkipFinalSnapshot=True)
        done.append("cluster " + cluster_id)
    except Exception as error:  # noqa: BLE001
        if _gone(error, RDS_GONE):
            done.append("cluster " + cluster_id + " (absent)")
        elif "InvalidDBClusterState" in _name(error):
            pending.append("cluster " + cluster_id + ": " + _name(error))
        else:
            raise


def delete_table(dynamodb, table, done, pending):
    try:
        status = dynamodb.describe_table(TableName=table)["Table"]["TableStatus"]
    except Exception as error:  # noqa: BLE001
        if _gone(error, ("ResourceNotFoundException",)):
            done.append("table " + table + " (absent)")
            return
        raise
    if status == "DELETING":
        done.append("table " + table + " (deleting)")
        return
    if status != "ACTIVE":
        # A table being restored cannot be deleted until it is ACTIVE.
        pending.append("table " + table + " is " + status)
        return
    dynamodb.delete_table(TableName=table)
    done.append("table " + table)


def cleanup(events, context):
    names = scratch_names(events)
    region = events["Region"]
    rds = boto3.client("rds", region_name=region)
    dynamodb = boto3.client("dynamodb", region_name=region)
    done, pending = [], []
    delete_cluster(rds, names["cluster"], done, pending)
    delete_table(dynamodb, names["table"], done, pending)
    dynamodb.delete_item(TableName=events["TableName"], Key={"pk": {"S": names["canary"]}})
    done.append("canary " + names["canary"])
    # Leftovers of earlier runs (cancelled before their cleanup), older than a drill can last.
    leftovers = []
    for cluster in rds.describe_db_clusters(Filters=[{"Name": "engine", "Values": ["aurora-postgresql"]}]).get("DBClusters", []):
        cluster_id = cluster["DBClusterIdentifier"]
        if cluster_id.startswith(events["ScratchPrefix"] + "-") and cluster_id != names["cluster"] and _age_hours(cluster.get("ClusterCreateTime")) > 12:
            leftovers.append(cluster_id)
            delete_cluster(rds, cluster_id, done, pending)
    tables, start = [], None
    while True:
        page = dynamodb.list_tables(**({"ExclusiveStartTableName": start} if start else {}))
        tables += page.get("TableNames", [])
        start = page.get("LastEvaluatedTableName")
        if not start:
            break
    for table in tables:
        if table.startswith(events["TablePrefix"] + "-") and table != names["table"]:
            created = dynamodb.describe_table(TableName=table)["Table"].get("CreationDateTime")
            if _age_hours(created) > 12:
                leftovers.append(table)
                delete_table(dynamodb, table, done, pending)
    if pending:
        raise Exception("not deletable yet, retrying: " + "; ".join(pending))
    return {"Deleted": "; ".join(done), "Leftovers": ", ".join(leftovers)}
