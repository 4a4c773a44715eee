"""RestoreAuroraCluster step of runbooks/restore-drill.yaml (aws:executeScript, python3.11)."""
import boto3

# scratch_names, iso and parse_time: restore_common.py, inlined before this.


def restore_cluster(events, context):
    """Restores the snapshot into this run's scratch cluster and adds its one instance.

    A restore through the RDS API creates no instance: "you must explicitly create the primary
    instance for your DB cluster" (Aurora User Guide, "Restoring from a DB cluster snapshot").
    Idempotent: a retried step finds what it created.
    """
    names = scratch_names(events)
    rds = boto3.client("rds", region_name=events["Region"])
    tags = [{"Key": "payments-dr:restore-drill", "Value": events["ExecutionId"]}]
    try:
        rds.restore_db_cluster_from_snapshot(
            DBClusterIdentifier=names["cluster"],
            SnapshotIdentifier=events["SnapshotArn"],
            Engine="aurora-postgresql",
            EngineVersion=events["EngineVersion"],
            DBSubnetGroupName=events["SubnetGroup"],
            VpcSecurityGroupIds=[events["SecurityGroupId"]],
            DBClusterParameterGroupName=events["ClusterParameterGroup"],
            KmsKeyId=events["KmsKeyId"],
            DeletionProtection=False,
            CopyTagsToSnapshot=False,
            Tags=tags,
        )
    except rds.exceptions.DBClusterAlreadyExistsFault:
        pass
    try:
        rds.create_db_instance(
            DBInstanceIdentifier=names["instance"],
            DBClusterIdentifier=names["cluster"],
            Engine="aurora-postgresql",
            DBInstanceClass=events["InstanceClass"],
            PubliclyAccessible=False,
            Tags=tags,
        )
    except rds.exceptions.DBInstanceAlreadyExistsFault:
        pass
    return {"ClusterId": names["cluster"], "InstanceId": names["instance"]}
