"""Shared helpers of the boto3 conformance scripts (versioning.py, objects.py),
run by test/conformance/run.sh.

A script is called as SCRIPT ENDPOINT [LABEL] with the keys in env
TUSK_TEST_ACCESS_KEY / TUSK_TEST_SECRET_KEY; CONFORMANCE_ONLY (a substring
of check names) runs a subset. Each check is a function decorated with
@check("description"); it runs at once, prints "ok - " / "not ok - " with
expected-vs-got on "#" lines, or "# skip - " when the running boto3 cannot
express the request (needs=[(Operation, Member)], from botocore's service
model). The script ends with finish(), which exits 1 if any check failed.
"""
import hashlib
import os
import random
import re
import string
import sys
import time
import traceback

import boto3
import botocore
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = sys.argv[1]
LABEL = sys.argv[2] if len(sys.argv) > 2 else "boto3"
ONLY = os.environ.get("CONFORMANCE_ONLY", "")  # substring filter on check names
counts = {"passed": 0, "failed": 0, "skipped": 0}
SALT = ""


class CheckError(Exception):
    pass


class Skip(Exception):
    """Raised by a check that finds the running boto3 cannot send what it
    means to test (reported as "# skip - ", not as a pass)."""


def expect(cond, msg):
    if not cond:
        raise CheckError(msg)


def eq(got, want, what):
    if got != want:
        raise CheckError(f"{what}:\n#     expected {want!r}\n#     got      {got!r}")


_model = botocore.session.get_session().get_service_model("s3")


def can_express(op, member):
    """Whether this botocore's S3 model has input member `member` of `op`
    (boto3 refuses unknown parameters client-side)."""
    return member in _model.operation_model(op).input_shape.members


def check(desc, needs=()):
    def deco(fn):
        global SALT
        if ONLY and ONLY not in desc:
            return fn
        missing = [f"{op}.{m}" for op, m in needs if not can_express(op, m)]
        if missing:
            counts["skipped"] += 1
            print(f"# skip - {LABEL}: {desc} (botocore {botocore.__version__} cannot send "
                  f"{', '.join(missing)})", flush=True)
            return fn
        t0 = time.monotonic()
        SALT = rand_suffix(12)
        try:
            fn()
            counts["passed"] += 1
            print(f"ok - {LABEL}: {desc} ({time.monotonic() - t0:.1f}s)", flush=True)
        except Skip as e:
            counts["skipped"] += 1
            print(f"# skip - {LABEL}: {desc} ({e})", flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is a check's
            counts["failed"] += 1
            print(f"not ok - {LABEL}: {desc} ({time.monotonic() - t0:.1f}s)", flush=True)
            if isinstance(e, CheckError):
                for line in str(e).splitlines():
                    print(line if line.startswith("#") else f"#   {line}")
            else:
                # where in the check's script (and in this file), then the error
                for fr in traceback.extract_tb(e.__traceback__):
                    if fr.filename in (fn.__code__.co_filename, __file__) and fr.name != "deco":
                        print(f"#   at {os.path.basename(fr.filename)}:{fr.lineno}: {fr.line}")
                print(f"#   {type(e).__name__}: {e}")
            sys.stdout.flush()
        return fn
    return deco


def finish():
    print(f"# {LABEL}: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
    sys.exit(1 if counts["failed"] else 0)


cfg = Config(
    region_name="us-east-1",
    signature_version="s3v4",
    s3={"addressing_style": "path"},
    retries={"max_attempts": 1, "mode": "standard"},
    connect_timeout=5,
    read_timeout=30,
    max_pool_connections=16,
)
s3 = boto3.client(
    "s3",
    endpoint_url=ENDPOINT,
    aws_access_key_id=os.environ["TUSK_TEST_ACCESS_KEY"],
    aws_secret_access_key=os.environ["TUSK_TEST_SECRET_KEY"],
    config=cfg,
)


def banner(script):
    print(f"# {LABEL} {script}: boto3 {boto3.__version__}, botocore {botocore.__version__}, "
          f"python {sys.version.split()[0]} at {sys.executable}", flush=True)


def rand_suffix(n=8):
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def new_bucket(prefix):
    name = f"{prefix}-{rand_suffix()}"
    assert 3 <= len(name) <= 63 and re.fullmatch(r"[a-z0-9][a-z0-9-]*[a-z0-9]", name), name
    s3.create_bucket(Bucket=name)
    return name


def u(text):
    """A body unique to the running check: content removed by one check
    (Tusk once purged by content hash) must not affect another."""
    return f"{text} #{SALT}".encode()


def md5q(b):
    return '"' + hashlib.md5(b).hexdigest() + '"'


def hdrs(r):
    return r["ResponseMetadata"]["HTTPHeaders"]


def status(r):
    return r["ResponseMetadata"]["HTTPStatusCode"]


def put(bucket, key, body, **kw):
    r = s3.put_object(Bucket=bucket, Key=key, Body=body, **kw)
    return r.get("VersionId")


def read(bucket, key, vid=None, **kw):
    if vid is not None:
        kw["VersionId"] = vid
    r = s3.get_object(Bucket=bucket, Key=key, **kw)
    return r["Body"].read(), r


def failure(fn, *a, **kw):
    """Call fn expecting a ClientError; return (status, code, headers)."""
    try:
        r = fn(*a, **kw)
    except ClientError as e:
        md = e.response.get("ResponseMetadata", {})
        return md.get("HTTPStatusCode"), e.response.get("Error", {}).get("Code"), md.get("HTTPHeaders", {})
    if isinstance(r, dict) and "Body" in r:
        r["Body"].read()
    raise CheckError(f"{fn.__name__}({a}, {kw}) succeeded (HTTP {status(r)}, VersionId "
                     f"{r.get('VersionId')!r}); expected an error")


def want_error(got, st, code, what):
    if code is None:
        eq(got[0], st, f"{what}: HTTP status")
    else:
        eq((got[0], got[1]), (st, code), f"{what}: (HTTP status, error code)")
