"""CheckReadiness step of runbooks/dr-drill.yaml (aws:executeScript, python3.11)."""
import boto3

def check_readiness(events, context):
    ssm = boto3.client("ssm", region_name=events["SecondaryRegion"])
    active = ssm.get_parameter(Name=events["ParameterPrefix"] + "/active-region")["Parameter"]["Value"]
    if active != events["PrimaryRegion"]:
        raise Exception("drill refused: the active region is " + active + ", not " + events["PrimaryRegion"] + "; fail back first")
    rds = boto3.client("rds", region_name=events["SecondaryRegion"])
    clusters = rds.describe_global_clusters(GlobalClusterIdentifier=events["GlobalClusterIdentifier"])["GlobalClusters"]
    if not clusters or clusters[0]["Status"] != "available":
        raise Exception("drill refused: the global cluster is not available")
    members = clusters[0]["GlobalClusterMembers"]
    writers = [m["DBClusterArn"] for m in members if m["IsWriter"]]
    if len(members) < 2 or len(writers) != 1 or (":" + events["PrimaryRegion"] + ":") not in writers[0]:
        raise Exception("drill refused: expected one writer in " + events["PrimaryRegion"] + " and a secondary, got " + str(members))
    return {"ActiveRegion": active, "Writer": writers[0]}
