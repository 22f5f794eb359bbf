"""Regenerates botocore.json: requests signed by botocore's SigV4Auth at a
fixed time. Run with the image's python3 (no network needed):

    python3 internal/sigv4/testdata/gen_botocore.py > internal/sigv4/testdata/botocore.json
"""
import datetime
import json

import botocore
import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

NOW = datetime.datetime(2026, 11, 23, 10, 0, 0)
botocore.auth.get_current_datetime = lambda: NOW

CASES = [
    dict(name="encrypt", url="http://127.0.0.1:4599/", token=None,
         headers={"Content-Type": "application/x-amz-json-1.1",
                  "X-Amz-Target": "TrentService.Encrypt"},
         body='{"KeyId": "alias/test", "Plaintext": "aGVsbG8gd29ybGQ="}'),
    dict(name="session-token", url="http://localhost:8443/", token="FQoGZXIvYXdzEXAMPLETOKEN//+=",
         headers={"Content-Type": "application/x-amz-json-1.1",
                  "X-Amz-Target": "TrentService.DescribeKey",
                  "X-Custom": "  spaced   out  value "},
         body='{"KeyId": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}'),
    dict(name="path-and-query", url="http://127.0.0.1:4599/some%20path/a-b_c.d~e?b=2&a=hello%20world&a=1&c=~&empty=",
         token=None, headers={"Content-Type": "application/x-amz-json-1.1"}, body="{}"),
]

out = []
for c in CASES:
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", c["token"])
    req = AWSRequest(method="POST", url=c["url"], headers=dict(c["headers"]), data=c["body"].encode())
    botocore.auth.SigV4Auth(creds, "kms", "us-east-1").add_auth(req)
    p = req.prepare()
    out.append(dict(name=c["name"], method=p.method, url=p.url,
                    headers=[[k, v.decode() if isinstance(v, bytes) else v] for k, v in p.headers.items()],
                    body=c["body"], accessKeyId="AKIDEXAMPLE",
                    secret="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken=c["token"] or "",
                    now=NOW.strftime("%Y%m%dT%H%M%SZ"), botocore=botocore.__version__))
print(json.dumps(out, indent=2))
