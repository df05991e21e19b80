#!/usr/bin/env python3
"""boto3 checks against a running Tusk gateway, run by test/clients.sh.

usage: boto3_check.py ENDPOINT BUCKET LABEL
keys: env TUSK_TEST_ACCESS_KEY / TUSK_TEST_SECRET_KEY.

Prints one line per check, "ok - LABEL: ..." or "not ok - LABEL: ...",
with diagnostics on "#" lines; exits 1 if any check failed. BUCKET must
not exist yet (it is created here: a fresh repo).
"""
import concurrent.futures
import hashlib
import os
import sys
import time
import traceback
import urllib.error
import urllib.request

import boto3
import botocore
from botocore.config import Config

ENDPOINT, BUCKET, LABEL = sys.argv[1], sys.argv[2], sys.argv[3]
failed = 0


class CheckError(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise CheckError(msg)


def eq(got, want, what):
    if got != want:
        raise CheckError(f"{what}: expected {want!r}, got {got!r}")


def check(desc):
    def deco(fn):
        global failed
        t0 = time.monotonic()
        try:
            fn()
            print(f"ok - {LABEL}: {desc} ({time.monotonic() - t0:.1f}s)", flush=True)
        except Exception as e:  # noqa: BLE001 - report every failure as a check
            failed += 1
            print(f"not ok - {LABEL}: {desc} ({time.monotonic() - t0:.1f}s)", flush=True)
            if isinstance(e, CheckError):
                print(f"#   {e}")
            else:
                for line in traceback.format_exc().rstrip().splitlines()[-12:]:
                    print(f"#   {line}")
            sys.stdout.flush()
        return fn
    return deco


def md5(b):
    return hashlib.md5(b).hexdigest()


def data(n, seed):
    # deterministic bytes, cheap to make
    out = bytearray()
    h = hashlib.sha256(seed.encode()).digest()
    while len(out) < n:
        h = hashlib.sha256(h).digest()
        out += h
    return bytes(out[:n])


cfg = Config(
    region_name="us-east-1",
    signature_version="s3v4",
    s3={"addressing_style": "path"},
    retries={"max_attempts": 1, "mode": "standard"},
    connect_timeout=5,
    max_pool_connections=16,
    read_timeout=10,
)
s3 = boto3.client(
    "s3",
    endpoint_url=ENDPOINT,
    aws_access_key_id=os.environ["TUSK_TEST_ACCESS_KEY"],
    aws_secret_access_key=os.environ["TUSK_TEST_SECRET_KEY"],
    config=cfg,
)
print(f"# {LABEL}: boto3 {boto3.__version__}, botocore {botocore.__version__}, "
      f"python {sys.version.split()[0]} at {sys.executable}")

state = {}


@check("create_bucket (new repo)")
def _():
    s3.create_bucket(Bucket=BUCKET)
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    expect(BUCKET in names, f"{BUCKET} missing from list_buckets: {names}")


@check("put_object / get_object round-trip, VersionId and ETag")
def _():
    body = data(10000, "plain")
    r = s3.put_object(Bucket=BUCKET, Key="plain.bin", Body=body)
    vid = r.get("VersionId")
    expect(vid, f"put_object returned no VersionId: {r}")
    eq(r["ETag"].strip('"'), md5(body), "put ETag")
    g = s3.get_object(Bucket=BUCKET, Key="plain.bin")
    got = g["Body"].read()
    expect(got == body, f"get_object bytes differ: {len(got)} bytes, md5 {md5(got)} vs {md5(body)}")
    eq(g.get("VersionId"), vid, "get_object VersionId")
    eq(g["ContentLength"], len(body), "get ContentLength")
    eq(g["ETag"].strip('"'), md5(body), "get ETag")
    state["plain"] = body


@check("put_object of an empty file-like body (Expect: 100-continue), then 2 puts on the connection")
def _():
    # botocore sends "Expect: 100-continue" for file-like bodies. A final
    # response without "100 Continue" first (Go's net/http does that for an
    # empty body) leaves botocore's pooled connection with a stale status line
    # (boto/botocore#3755, #3010): the next PUT on it misparses its answer and
    # either stalls until the read timeout or is silently sent again (a
    # second commit). AWS answers "100 Continue" and botocore works there.
    import io
    r = s3.put_object(Bucket=BUCKET, Key="empty/stream", Body=io.BytesIO(b""))
    eq(r["ETag"].strip('"'), md5(b""), "ETag of the empty object")
    problems = []
    for i in range(2):
        body = data(100 + i, f"after-empty-{i}")
        t0 = time.monotonic()
        r = s3.put_object(Bucket=BUCKET, Key=f"empty/after-{i}", Body=io.BytesIO(body))
        took = time.monotonic() - t0
        eq(r["ETag"].strip('"'), md5(body), f"ETag of put #{i} after the empty put")
        if took > 5:
            problems.append(f"put #{i} after the empty put took {took:.1f}s (read timeout {cfg.read_timeout}s: "
                            "the answer was misparsed, then the PUT was silently sent again)")
    eq(s3.get_object(Bucket=BUCKET, Key="empty/stream")["Body"].read(), b"", "empty object bytes")
    for i in range(2):
        v = s3.list_object_versions(Bucket=BUCKET, Prefix=f"empty/after-{i}").get("Versions", [])
        if len(v) != 1:
            problems.append(f"empty/after-{i} has {len(v)} versions after ONE put_object (the client sent it twice)")
    expect(not problems, "; ".join(problems))


@check("head_object metadata round-trip (Metadata, ContentType, CacheControl, ContentDisposition)")
def _():
    meta = {"color": "blue", "owner-name": "tusk test"}
    body = b"metadata body\n"
    s3.put_object(Bucket=BUCKET, Key="meta.txt", Body=body, Metadata=meta,
                  ContentType="application/x-tusk-test", CacheControl="max-age=60",
                  ContentDisposition='attachment; filename="m.txt"')
    h = s3.head_object(Bucket=BUCKET, Key="meta.txt")
    eq(h.get("Metadata"), meta, "head Metadata")
    eq(h.get("ContentType"), "application/x-tusk-test", "head ContentType")
    eq(h.get("CacheControl"), "max-age=60", "head CacheControl")
    eq(h.get("ContentDisposition"), 'attachment; filename="m.txt"', "head ContentDisposition")
    eq(h.get("ContentLength"), len(body), "head ContentLength")
    g = s3.get_object(Bucket=BUCKET, Key="meta.txt")
    eq(g.get("Metadata"), meta, "get Metadata")
    eq(g.get("ContentType"), "application/x-tusk-test", "get ContentType")
    eq(g["Body"].read(), body, "get body")


@check("list_objects_v2 paginator, 250 keys (put by 8 threads), MaxKeys=100")
def _():
    keys = [f"page/k{i:03d}" for i in range(250)]
    # 8 writers at once: concurrent commits on one branch must all land
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        vids = list(ex.map(lambda k: s3.put_object(Bucket=BUCKET, Key=k, Body=k.encode())["VersionId"], keys))
    eq(len(set(vids)), 250, "distinct VersionIds (commits) of 250 concurrent puts")
    pages = list(s3.get_paginator("list_objects_v2").paginate(
        Bucket=BUCKET, Prefix="page/", MaxKeys=100))
    counts = [len(p.get("Contents", [])) for p in pages]
    eq(counts, [100, 100, 50], "keys per page")
    eq([p.get("KeyCount") for p in pages], [100, 100, 50], "KeyCount per page")
    eq([p.get("IsTruncated") for p in pages], [True, True, False], "IsTruncated per page")
    got = [o["Key"] for p in pages for o in p.get("Contents", [])]
    eq(got, keys, "listed keys")


@check("list_objects (v1) paginator, 250 keys, MaxKeys=100, and delimiter")
def _():
    pages = list(s3.get_paginator("list_objects").paginate(
        Bucket=BUCKET, Prefix="page/", MaxKeys=100))
    got = [o["Key"] for p in pages for o in p.get("Contents", [])]
    eq(len(pages), 3, "page count")
    eq(got, [f"page/k{i:03d}" for i in range(250)], "listed keys")
    r = s3.list_objects_v2(Bucket=BUCKET, Delimiter="/")
    eq([c["Prefix"] for c in r.get("CommonPrefixes", [])], ["empty/", "page/"], "CommonPrefixes")
    eq(sorted(o["Key"] for o in r.get("Contents", [])), ["meta.txt", "plain.bin"], "root keys")


@check("list_object_versions: 3 versions then a delete marker")
def _():
    vids = []
    for i in range(3):
        vids.append(s3.put_object(Bucket=BUCKET, Key="vers/k", Body=f"v{i}".encode())["VersionId"])
    d = s3.delete_object(Bucket=BUCKET, Key="vers/k")
    expect(d.get("DeleteMarker") is True, f"delete_object: DeleteMarker not true: {d}")
    dm = d.get("VersionId")
    expect(dm, f"delete_object returned no VersionId: {d}")
    r = s3.list_object_versions(Bucket=BUCKET, Prefix="vers/k")
    vs = r.get("Versions", [])
    eq([v["VersionId"] for v in vs], vids[::-1], "Versions (newest first)")
    eq([v["IsLatest"] for v in vs], [False, False, False], "Versions IsLatest")
    eq([v["Key"] for v in vs], ["vers/k"] * 3, "Versions Key")
    dms = r.get("DeleteMarkers", [])
    eq([(m["Key"], m["VersionId"], m["IsLatest"]) for m in dms], [("vers/k", dm, True)], "DeleteMarkers")
    g = s3.get_object(Bucket=BUCKET, Key="vers/k", VersionId=vids[0])
    eq(g["Body"].read(), b"v0", "get_object of the first version")


@check("delete_objects of 10 keys (one commit)")
def _():
    keys = [f"del/{i}" for i in range(10)]
    for k in keys:
        s3.put_object(Bucket=BUCKET, Key=k, Body=b"x")
    r = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in keys]})
    eq(r.get("Errors", []), [], "Errors")
    eq(sorted(d["Key"] for d in r.get("Deleted", [])), sorted(keys), "Deleted keys")
    l = s3.list_objects_v2(Bucket=BUCKET, Prefix="del/")
    eq(l.get("KeyCount"), 0, "keys left under del/")
    ids = {d.get("DeleteMarkerVersionId") for d in r["Deleted"]}
    expect(len(ids) == 1 and None not in ids,
           f"expected one DeleteMarkerVersionId (one commit) for all 10 keys, got {ids}")


@check("copy_object (COPY and REPLACE metadata directives)")
def _():
    r = s3.copy_object(Bucket=BUCKET, Key="copy/plain.bin",
                       CopySource={"Bucket": BUCKET, "Key": "plain.bin"})
    expect(r.get("VersionId"), f"copy_object returned no VersionId: {r}")
    eq(r["CopyObjectResult"]["ETag"].strip('"'), md5(state["plain"]), "CopyObjectResult ETag")
    eq(s3.get_object(Bucket=BUCKET, Key="copy/plain.bin")["Body"].read(), state["plain"], "copied bytes")
    s3.copy_object(Bucket=BUCKET, Key="copy/meta.txt", CopySource={"Bucket": BUCKET, "Key": "meta.txt"})
    h = s3.head_object(Bucket=BUCKET, Key="copy/meta.txt")
    eq(h.get("Metadata", {}).get("color"), "blue", "COPY directive: metadata copied")
    eq(h.get("ContentType"), "application/x-tusk-test", "COPY directive: ContentType copied")
    s3.copy_object(Bucket=BUCKET, Key="copy/meta2.txt", CopySource={"Bucket": BUCKET, "Key": "meta.txt"},
                   MetadataDirective="REPLACE", Metadata={"shape": "round"}, ContentType="text/plain")
    h = s3.head_object(Bucket=BUCKET, Key="copy/meta2.txt")
    eq(h.get("Metadata"), {"shape": "round"}, "REPLACE directive: Metadata")
    eq(h.get("ContentType"), "text/plain", "REPLACE directive: ContentType")


@check("upload_file / download_file (s3transfer, 3 MiB)")
def _():
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        src, dst = os.path.join(d, "src"), os.path.join(d, "dst")
        body = data(3 << 20, "transfer")
        with open(src, "wb") as f:
            f.write(body)
        s3.upload_file(src, BUCKET, "transfer.bin")
        s3.download_file(BUCKET, "transfer.bin", dst)
        with open(dst, "rb") as f:
            got = f.read()
        expect(got == body, f"downloaded bytes differ: md5 {md5(got)} vs {md5(body)}")


def fetch(req):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@check("generate_presigned_url GET fetched with urllib")
def _():
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "plain.bin"},
                                    ExpiresIn=300)
    expect("X-Amz-Signature=" in url, f"not a SigV4 presigned URL: {url}")
    status, body = fetch(url)
    eq(status, 200, f"status for {url} (body {body[:300]!r})")
    expect(body == state["plain"], f"presigned GET bytes differ: {len(body)} bytes")
    # a tampered signature is refused
    i = url.index("X-Amz-Signature=") + len("X-Amz-Signature=")
    bad = url[:i] + ("1" if url[i] == "0" else "0") + url[i + 1:]
    status, body = fetch(bad)
    eq(status, 403, "status for a presigned URL with a broken signature")


@check("generate_presigned_url PUT with urllib, read back")
def _():
    url = s3.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "presigned-put.txt"},
                                    ExpiresIn=300)
    req = urllib.request.Request(url, data=b"presigned put\n", method="PUT")
    status, body = fetch(req)
    eq(status, 200, f"status (body {body[:300]!r})")
    eq(s3.get_object(Bucket=BUCKET, Key="presigned-put.txt")["Body"].read(), b"presigned put\n", "bytes")


sys.exit(1 if failed else 0)
