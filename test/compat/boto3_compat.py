"""boto3 client compatibility checks for Trent.

Usage: PYTHON boto3_compat.py LABEL

Reads the target from COMPAT_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_REGION and COMPAT_CA and prints one "PASS LABEL: ..." or "FAIL LABEL: ..."
line per check. endpoint_url is always passed explicitly: Debian's boto3 1.26
ignores AWS_ENDPOINT_URL_KMS and would otherwise reach the real AWS.
"""

import base64
import os
import re
import sys
import traceback
import uuid

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

LABEL = sys.argv[1] if len(sys.argv) > 1 else "boto3"
ENDPOINT = os.environ["COMPAT_ENDPOINT"]
REGION = os.environ.get("AWS_REGION", "us-east-1")
CA = os.environ.get("COMPAT_CA") or None

results = []


def report(ok, what):
    line = ("PASS " if ok else "FAIL ") + LABEL + ": " + what
    print(line, flush=True)
    results.append(ok)


def client(access_key=None, secret_key=None):
    return boto3.client(
        "kms",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=access_key or os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=secret_key or os.environ["AWS_SECRET_ACCESS_KEY"],
        verify=CA,  # None keeps botocore's default (AWS_CA_BUNDLE or certifi)
        config=Config(retries={"max_attempts": 1}, connect_timeout=10, read_timeout=30),
    )


def code(exc):
    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else type(exc).__name__


def check(what):
    """Runs the decorated function as one check; an exception is a FAIL."""

    def wrap(fn):
        try:
            fn()
            report(True, what)
        except AssertionError as e:
            report(False, "%s: %s" % (what, e))
        except Exception as e:  # noqa: BLE001 - any client error is a failure to report
            report(False, "%s: %s: %s" % (what, type(e).__name__, str(e).replace("\n", " ")[:300]))
        return fn

    return wrap


def expect_error(fn, want):
    try:
        fn()
    except ClientError as e:
        assert code(e) == want, "got %s (%s), want %s" % (code(e), e, want)
        return e
    raise AssertionError("call succeeded, want %s" % want)


kms = client()
state = {}
CTX = {"purpose": "compat", "client": LABEL}
PLAIN = os.urandom(2048)


@check("create_key returns a key ARN with a 12-digit account")
def _():
    md = kms.create_key(Description="compat " + LABEL)["KeyMetadata"]
    arn = md["Arn"]
    parts = arn.split(":")
    assert len(parts) == 6 and parts[0:3] == ["arn", "aws", "kms"], arn
    assert parts[3] == REGION and len(parts[4]) == 12 and parts[4].isdigit(), arn
    assert parts[5] == "key/" + md["KeyId"], arn
    assert md["KeyState"] == "Enabled" and md["KeySpec"] == "SYMMETRIC_DEFAULT", md
    state["arn"] = arn
    state["arn2"] = kms.create_key(Description="compat second " + LABEL)["KeyMetadata"]["Arn"]


if "arn" not in state:
    sys.exit(0)
ARN, ARN2 = state["arn"], state["arn2"]


@check("encrypt/decrypt 2 KiB with an encryption context")
def _():
    ct = kms.encrypt(KeyId=ARN, Plaintext=PLAIN, EncryptionContext=CTX)
    assert ct["KeyId"] == ARN, ct["KeyId"]
    state["ct"] = ct["CiphertextBlob"]
    out = kms.decrypt(CiphertextBlob=ct["CiphertextBlob"], EncryptionContext=CTX, KeyId=ARN)
    assert out["Plaintext"] == PLAIN, "plaintext differs"
    assert out["KeyId"] == ARN, out["KeyId"]
    assert out.get("EncryptionAlgorithm") == "SYMMETRIC_DEFAULT", "EncryptionAlgorithm=%r" % out.get("EncryptionAlgorithm")


@check("decrypt with a wrong encryption context fails with InvalidCiphertextException")
def _():
    expect_error(
        lambda: kms.decrypt(CiphertextBlob=state["ct"], EncryptionContext={"purpose": "other"}),
        "InvalidCiphertextException",
    )


@check("decrypt naming another key fails with IncorrectKeyException")
def _():
    expect_error(
        lambda: kms.decrypt(CiphertextBlob=state["ct"], EncryptionContext=CTX, KeyId=ARN2),
        "IncorrectKeyException",
    )


@check("generate_data_key (KeySpec and NumberOfBytes) round-trips through decrypt")
def _():
    dk = kms.generate_data_key(KeyId=ARN, KeySpec="AES_256", EncryptionContext=CTX)
    assert len(dk["Plaintext"]) == 32, "data key is %d bytes, want 32" % len(dk["Plaintext"])
    assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=CTX)["Plaintext"] == dk["Plaintext"]
    dk = kms.generate_data_key(KeyId=ARN, NumberOfBytes=17)
    assert len(dk["Plaintext"]) == 17, "data key is %d bytes, want 17" % len(dk["Plaintext"])
    nop = kms.generate_data_key_without_plaintext(KeyId=ARN, KeySpec="AES_128")
    assert "Plaintext" not in nop
    assert len(kms.decrypt(CiphertextBlob=nop["CiphertextBlob"])["Plaintext"]) == 16


@check("create_alias, encrypt by alias name and alias ARN, list_aliases")
def _():
    alias = "alias/compat-%s-%s" % (re.sub(r"[^a-zA-Z0-9_-]", "-", LABEL), uuid.uuid4().hex[:8])
    kms.create_alias(AliasName=alias, TargetKeyId=ARN)
    ct = kms.encrypt(KeyId=alias, Plaintext=b"by alias")
    assert ct["KeyId"] == ARN, ct["KeyId"]
    alias_arn = ARN.rsplit(":", 1)[0] + ":" + alias
    ct2 = kms.encrypt(KeyId=alias_arn, Plaintext=b"by alias arn")
    assert kms.decrypt(CiphertextBlob=ct2["CiphertextBlob"])["Plaintext"] == b"by alias arn"
    names = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases(KeyId=ARN)["Aliases"]}
    assert names.get(alias) == ARN.split("/")[-1], names
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"] == ARN


@check("get_key_rotation_status False, True after enable_key_rotation")
def _():
    assert kms.get_key_rotation_status(KeyId=ARN)["KeyRotationEnabled"] is False
    kms.enable_key_rotation(KeyId=ARN)
    assert kms.get_key_rotation_status(KeyId=ARN)["KeyRotationEnabled"] is True


@check("re_encrypt moves a ciphertext to a second key under a new context")
def _():
    new_ctx = {"purpose": "re-encrypted"}
    out = kms.re_encrypt(
        CiphertextBlob=state["ct"],
        SourceEncryptionContext=CTX,
        DestinationKeyId=ARN2,
        DestinationEncryptionContext=new_ctx,
    )
    assert out["SourceKeyId"] == ARN and out["KeyId"] == ARN2, out
    dec = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext=new_ctx)
    assert dec["Plaintext"] == PLAIN and dec["KeyId"] == ARN2, dec["KeyId"]


@check("create_grant, list_grants, retire_grant")
def _():
    # The account's root: a grant may only name IAM users and roles that
    # exist (AWS and Trent resolve them to unique IDs); this suite creates none.
    g = kms.create_grant(
        KeyId=ARN,
        GranteePrincipal="arn:aws:iam::%s:root" % ARN.split(":")[4],
        RetiringPrincipal="arn:aws:iam::%s:root" % ARN.split(":")[4],
        Operations=["Encrypt", "Decrypt"],
        Name="compat-" + LABEL.replace(".", "-"),
    )
    gid, tok = g["GrantId"], g["GrantToken"]
    assert gid and tok
    grants = kms.list_grants(KeyId=ARN)["Grants"]
    mine = [x for x in grants if x["GrantId"] == gid]
    assert len(mine) == 1, grants
    assert sorted(mine[0]["Operations"]) == ["Decrypt", "Encrypt"], mine[0]
    kms.retire_grant(KeyId=ARN, GrantId=gid)
    left = [x["GrantId"] for x in kms.list_grants(KeyId=ARN)["Grants"]]
    assert gid not in left, left


@check("RSA_2048 ENCRYPT_DECRYPT: RSAES_OAEP_SHA_256 round trip and get_public_key")
def _():
    md = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    assert "RSAES_OAEP_SHA_256" in md.get("EncryptionAlgorithms", []), md
    msg = b"asymmetric compat message"
    ct = kms.encrypt(KeyId=md["KeyId"], Plaintext=msg, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert len(ct["CiphertextBlob"]) == 256, "RSA_2048 ciphertext is %d bytes, want 256" % len(ct["CiphertextBlob"])
    out = kms.decrypt(KeyId=md["KeyId"], CiphertextBlob=ct["CiphertextBlob"], EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert out["Plaintext"] == msg
    pub = kms.get_public_key(KeyId=md["KeyId"])
    assert pub["KeySpec"] == "RSA_2048" and pub["PublicKey"][:1] == b"\x30", "public key is not DER"
    try:  # Encrypting locally with the public key proves the DER is usable.
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding
    except ImportError:
        return
    key = serialization.load_der_public_key(pub["PublicKey"])
    local = key.encrypt(msg, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
    out = kms.decrypt(KeyId=md["KeyId"], CiphertextBlob=local, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert out["Plaintext"] == msg, "locally encrypted message did not decrypt"


def sign_verify(spec, alg):
    @check("sign/verify %s %s; a tampered message fails with KMSInvalidSignatureException" % (spec, alg))
    def _():
        kid = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        msg = b"signed by " + LABEL.encode()
        sig = kms.sign(KeyId=kid, Message=msg, MessageType="RAW", SigningAlgorithm=alg)["Signature"]
        ok = kms.verify(KeyId=kid, Message=msg, MessageType="RAW", Signature=sig, SigningAlgorithm=alg)
        assert ok["SignatureValid"] is True, ok
        expect_error(
            lambda: kms.verify(KeyId=kid, Message=b"tampered", MessageType="RAW", Signature=sig, SigningAlgorithm=alg),
            "KMSInvalidSignatureException",
        )


sign_verify("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256")
sign_verify("ECC_NIST_P256", "ECDSA_SHA_256")


@check("describe_key of an unknown key fails with NotFoundException")
def _():
    expect_error(lambda: kms.describe_key(KeyId=str(uuid.uuid4())), "NotFoundException")


@check("encrypt with a disabled key fails with DisabledException; works again after enable_key")
def _():
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=kid)
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Disabled"
    expect_error(lambda: kms.encrypt(KeyId=kid, Plaintext=b"x"), "DisabledException")
    kms.enable_key(KeyId=kid)
    kms.encrypt(KeyId=kid, Plaintext=b"x")


@check("schedule_key_deletion puts the key in PendingDeletion; encrypt then fails with KMSInvalidStateException")
def _():
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    out = kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    assert out.get("KeyState") == "PendingDeletion", "ScheduleKeyDeletion response KeyState=%r" % out.get("KeyState")
    expect_error(lambda: kms.encrypt(KeyId=kid, Plaintext=b"x"), "KMSInvalidStateException")
    kms.cancel_key_deletion(KeyId=kid)


@check("a request signed with a wrong secret key fails with InvalidSignatureException")
def _():
    bad = client(secret_key="wrong" + os.environ["AWS_SECRET_ACCESS_KEY"])
    expect_error(lambda: bad.list_keys(), "InvalidSignatureException")


@check("a request with an unknown access key fails with UnrecognizedClientException")
def _():
    bad = client(access_key="AKIA" + uuid.uuid4().hex[:16].upper())
    expect_error(lambda: bad.list_keys(), "UnrecognizedClientException")
