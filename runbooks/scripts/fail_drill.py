"""MarkFailed step of the drill runbooks: a drill whose report says it failed ends Failed in
Systems Manager too."""


def fail_drill(events, context):
    raise Exception(events["Message"])
