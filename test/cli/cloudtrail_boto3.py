"""boto3's CloudTrail client against Trent's LookupEvents API.

Run by cloudtrail.sh, which starts the server, creates the users and the
key, and encrypts three times as "app". Environment: ENDPOINT, KEY_ARN,
AUD_KEY/AUD_SECRET (may look up), NOB_KEY/NOB_SECRET (may not). Raises on
the first failed check; prints a summary line on success.
"""

import datetime
import json
import os

import boto3
import botocore.exceptions


def client(key, secret):
    return boto3.client(
        "cloudtrail",
        endpoint_url=os.environ["ENDPOINT"],
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


def code(fn):
    try:
        fn()
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"].get("Message", "")
    raise AssertionError("call succeeded")


ct = client(os.environ["AUD_KEY"], os.environ["AUD_SECRET"])
arn = os.environ["KEY_ARN"]
enc = [{"AttributeKey": "EventName", "AttributeValue": "Encrypt"}]

# EventName, Username, ResourceName.
r = ct.lookup_events(LookupAttributes=enc)
assert [e["EventName"] for e in r["Events"]] == ["Encrypt"] * 3, r["Events"]
assert "NextToken" not in r
ev = r["Events"][0]
assert isinstance(ev["EventTime"], datetime.datetime), ev["EventTime"]
assert ev["ReadOnly"] == "true" and ev["Username"] == "app" and ev["EventSource"] == "kms.amazonaws.com"
assert ev["Resources"] == [{"ResourceType": "AWS::KMS::Key", "ResourceName": arn}], ev["Resources"]
rec = json.loads(ev["CloudTrailEvent"])
assert rec["eventID"] == ev["EventId"] and rec["eventName"] == "Encrypt"
times = [e["EventTime"] for e in r["Events"]]
assert times == sorted(times, reverse=True), times
by_user = ct.lookup_events(LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "app"}])["Events"]
assert {e["Username"] for e in by_user} == {"app"} and sum(e["EventName"] == "Encrypt" for e in by_user) == 3
by_res = ct.lookup_events(LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": arn}])["Events"]
assert sum(e["EventName"] == "Encrypt" for e in by_res) == 3, by_res
by_id = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": ev["EventId"]}])["Events"]
assert [e["EventId"] for e in by_id] == [ev["EventId"]]

# Paging: by hand with NextToken, and with boto3's paginator.
ids, token = [], None
while True:
    kw = {"LookupAttributes": enc, "MaxResults": 2}
    if token:
        kw["NextToken"] = token
    page = ct.lookup_events(**kw)
    ids += [e["EventId"] for e in page["Events"]]
    token = page.get("NextToken")
    if not token:
        break
assert ids == [e["EventId"] for e in r["Events"]], ids
pages = list(ct.get_paginator("lookup_events").paginate(LookupAttributes=enc, PaginationConfig={"PageSize": 1}))
assert [e["EventId"] for p in pages for e in p["Events"]] == ids, pages

# Errors.
first = ct.lookup_events(LookupAttributes=enc, MaxResults=1)
c, _ = code(lambda: ct.lookup_events(LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "app"}],
                                     NextToken=first["NextToken"]))
assert c == "InvalidNextTokenException", c
assert code(lambda: ct.lookup_events(NextToken="not-a-token"))[0] == "InvalidNextTokenException"
assert code(lambda: ct.lookup_events(MaxResults=51))[0] == "InvalidMaxResultsException"
assert code(lambda: ct.lookup_events(LookupAttributes=enc * 2))[0] == "InvalidLookupAttributesException"
assert code(lambda: ct.lookup_events(StartTime=datetime.datetime(2026, 2, 1), EndTime=datetime.datetime(2026, 1, 1)))[0] == "InvalidTimeRangeException"
assert code(lambda: ct.lookup_events(EventCategory="other"))[0] == "InvalidEventCategoryException"
assert ct.lookup_events(EventCategory="insight")["Events"] == []
c, msg = code(lambda: client(os.environ["NOB_KEY"], os.environ["NOB_SECRET"]).lookup_events(LookupAttributes=enc))
assert c == "AccessDeniedException" and "cloudtrail:LookupEvents" in msg, (c, msg)
c, _ = code(lambda: client(os.environ["AUD_KEY"], "wrong" + os.environ["AUD_SECRET"]).lookup_events())
assert c in ("InvalidSignatureException", "UnrecognizedClientException"), c
print("by EventName, Username, ResourceName, EventId; paging by hand and by paginator; 8 refusals")
