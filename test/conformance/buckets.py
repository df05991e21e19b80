#!/usr/bin/env python3
"""S3 bucket-level conformance checks with boto3, run by test/conformance/run.sh
after objects.py: CreateBucket of an existing bucket, GetBucketLocation,
canned ACLs and anonymous reads, ListBuckets pagination, bucket names.

usage: buckets.py ENDPOINT [LABEL]
keys: env TUSK_TEST_ACCESS_KEY / TUSK_TEST_SECRET_KEY (a global admin).

Each check asserts AWS's documented answer (named in its docstring); the
cross-owner case (409 BucketAlreadyExists) needs a second account and is
covered by the Go tests (TestBucketExists).
"""
import boto3
import botocore
from botocore import UNSIGNED
from botocore.config import Config

from conform import (ENDPOINT, Skip, banner, check, eq, expect, failure, finish, new_bucket, put, rand_suffix,
                     read, s3, u, want_error, _model)

banner("buckets.py")

anon = boto3.client("s3", endpoint_url=ENDPOINT, region_name="us-east-1",
                    config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"},
                                  retries={"max_attempts": 1, "mode": "standard"}))


@check("CreateBucket of a bucket its owner has, in us-east-1: 200 and its content stays")
def _():
    """CreateBucket error BucketAlreadyOwnedByYou: "in the North Virginia
    Region (us-east-1), Amazon S3 returns 200 OK" for a bucket you own."""
    b = new_bucket("again")
    put(b, "k", u("stays"))
    r = s3.create_bucket(Bucket=b)
    eq(r["ResponseMetadata"]["HTTPStatusCode"], 200, "second CreateBucket status")
    got, _ = read(b, "k")
    eq(got, u("stays"), "content after the second CreateBucket")


@check("GetBucketLocation: LocationConstraint empty (None) for a us-east-1 bucket")
def _():
    """GetBucketLocation: "Buckets in Region us-east-1 have a
    LocationConstraint of null"."""
    b = new_bucket("loc")
    eq(s3.get_bucket_location(Bucket=b).get("LocationConstraint"), None, "LocationConstraint")
    want_error(failure(s3.get_bucket_location, Bucket="nosuch-" + rand_suffix()), 404, "NoSuchBucket", "unknown bucket")


@check("canned ACL public-read lets anonymous requests read; private takes it back")
def _():
    """Canned ACL public-read: "Owner gets FULL_CONTROL. The AllUsers group
    gets READ access" (ACL overview); PutBucketAcl with x-amz-acl."""
    b = f"pub-{rand_suffix()}"
    s3.create_bucket(Bucket=b, ACL="public-read")
    put(b, "k", u("public bytes"))
    got = anon.get_object(Bucket=b, Key="k")["Body"].read()
    eq(got, u("public bytes"), "anonymous GET of a public-read bucket")
    keys = [o["Key"] for o in anon.list_objects_v2(Bucket=b).get("Contents", [])]
    eq(keys, ["k"], "anonymous ListObjectsV2")
    grants = s3.get_bucket_acl(Bucket=b)["Grants"]
    expect(any(g["Grantee"].get("URI", "").endswith("/global/AllUsers") and g["Permission"] == "READ" for g in grants),
           f"GetBucketAcl of a public-read bucket lacks AllUsers READ: {grants}")
    s3.put_bucket_acl(Bucket=b, ACL="private")
    want_error(failure(anon.get_object, Bucket=b, Key="k"), 403, "AccessDenied", "anonymous GET after private")
    want_error(failure(anon.put_object, Bucket=b, Key="w", Body=b"x"), 403, "AccessDenied", "anonymous PUT")


@check("ListBuckets with MaxBuckets, ContinuationToken and Prefix pages exactly")
def _():
    """ListBuckets: max-buckets, continuation-token (present in the answer
    while more buckets remain), prefix (ListBucketsOutput.Prefix)."""
    shape = _model.operation_model("ListBuckets").input_shape
    if shape is None or "MaxBuckets" not in shape.members:
        raise Skip(f"botocore {botocore.__version__} cannot send ListBuckets MaxBuckets (it drops it silently)")
    pre = f"lb{rand_suffix(6)}-"
    names = sorted(f"{pre}{i}" for i in range(5))
    for n in names:
        s3.create_bucket(Bucket=n)
    got, token, pages = [], None, 0
    while True:
        kw = {"MaxBuckets": 2, "Prefix": pre}
        if token:
            kw["ContinuationToken"] = token
        r = s3.list_buckets(**kw)
        pages += 1
        got += [x["Name"] for x in r["Buckets"]]
        if "Prefix" in _model.operation_model("ListBuckets").output_shape.members:
            eq(r.get("Prefix"), pre, "Prefix echoed")  # older botocore does not parse it
        token = r.get("ContinuationToken")
        if not token:
            break
        expect(pages < 10, "ListBuckets never ends")
    eq((got, pages), (names, 3), "(buckets, pages) of 5 buckets at 2 per page")


@check("bucket names: IP-address-like is InvalidBucketName; a dotted name of no repo is NoSuchBucket")
def _():
    """Bucket naming rules: "must not be formatted as an IP address"
    (InvalidBucketName). Tusk reads a dotted name as REF.REPO (SPEC §2)."""
    want_error(failure(s3.create_bucket, Bucket="192.168.5.4"), 400, "InvalidBucketName", "CreateBucket 192.168.5.4")
    want_error(failure(s3.head_bucket, Bucket=f"dev.norepo-{rand_suffix()}"), 404, None, "HeadBucket of a dotted name of no repo")


finish()
