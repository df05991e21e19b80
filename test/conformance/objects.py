#!/usr/bin/env python3
"""S3 object-surface conformance checks with boto3, run by test/conformance/run.sh
after versioning.py: GetObjectAttributes, partNumber reads, a re-sent
multipart part, conditional writes, presigned-URL expiry, list echoes,
unusual keys, CopyObject metadata directives.

usage: objects.py ENDPOINT [LABEL]
keys: env TUSK_TEST_ACCESS_KEY / TUSK_TEST_SECRET_KEY.

Every check asserts what AWS S3 documents (or, where AWS documents no answer,
what S3-compatible servers that copy AWS's captured answers return), never
what Tusk happens to do: the source is named in each check's docstring. Each
check makes its own bucket (random suffix). Checks that the running boto3
cannot express (boto3 1.26 has no IfMatch / IfNoneMatch on PutObject and
DeleteObject) print "# skip - " instead of passing.
"""
import base64
import binascii
import hashlib
import http.client
import time
import urllib.parse
import xml.etree.ElementTree as ET

from conform import (Skip, banner, check, eq, expect, failure, finish, md5q,
                     new_bucket, put, read, s3, status, u, want_error, _model)

banner("objects.py")

MiB = 1 << 20


def crc32_b64(b):
    return base64.b64encode(binascii.crc32(b).to_bytes(4, "big")).decode()


def out_has(op, member):
    """Whether this botocore parses output member `member` of `op`."""
    return member in _model.operation_model(op).output_shape.members


def list_versions(b):
    r = s3.list_object_versions(Bucket=b)
    return sorted((v["Key"], v["VersionId"], v["ETag"]) for v in r.get("Versions", [])) + \
        sorted(("DM", d["Key"], d["VersionId"]) for d in r.get("DeleteMarkers", []))


def mp_upload(b, key, parts, algo=None):
    """CreateMultipartUpload + UploadPart for each body; returns (upload id,
    completed-part list)."""
    kw = {"ChecksumAlgorithm": algo} if algo else {}
    up = s3.create_multipart_upload(Bucket=b, Key=key, **kw)["UploadId"]
    done = []
    for i, body in enumerate(parts, 1):
        r = s3.upload_part(Bucket=b, Key=key, UploadId=up, PartNumber=i, Body=body, **kw)
        p = {"PartNumber": i, "ETag": r["ETag"]}
        if r.get("ChecksumCRC32"):
            p["ChecksumCRC32"] = r["ChecksumCRC32"]
        done.append(p)
    return up, done


def mp_complete(b, key, up, parts):
    return s3.complete_multipart_upload(Bucket=b, Key=key, UploadId=up, MultipartUpload={"Parts": parts})


ALL_ATTRS = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]


# ====================================================================== 1 GetObjectAttributes
@check("GetObjectAttributes of a single-part PUT with ChecksumAlgorithm CRC32: unquoted ETag, ObjectSize, "
       "StorageClass STANDARD, the CRC32 read back, no ObjectParts")
def _():
    """AWS GetObjectAttributes API reference: response elements ETag ("An
    ETag is an opaque identifier"; the example response and AWS's answer carry
    it without the quotes GetObject puts around it), ObjectSize, StorageClass,
    Checksum ("The checksum or digest of the object", here the CRC32 sent
    with PutObject x-amz-checksum-crc32, ChecksumType FULL_OBJECT for a
    single-part object), ObjectParts only for multipart uploads; VersionId
    header x-amz-version-id. PutObject ChecksumAlgorithm (Checking object
    integrity, user guide)."""
    b = new_bucket("goa-single")
    body = u("single part body")
    r = s3.put_object(Bucket=b, Key="k", Body=body, ChecksumAlgorithm="CRC32")
    eq(r.get("ChecksumCRC32"), crc32_b64(body), "PutObject ChecksumCRC32 (x-amz-checksum-crc32)")
    a = s3.get_object_attributes(Bucket=b, Key="k", ObjectAttributes=ALL_ATTRS)
    eq(status(a), 200, "GetObjectAttributes HTTP status")
    eq(a.get("ETag"), hashlib.md5(body).hexdigest(), "ETag (MD5 hex, no quotes)")
    eq(a.get("ObjectSize"), len(body), "ObjectSize")
    eq(a.get("StorageClass"), "STANDARD", "StorageClass")
    ck = a.get("Checksum") or {}
    eq(ck.get("ChecksumCRC32"), crc32_b64(body), "Checksum.ChecksumCRC32")
    if out_has("GetObjectAttributes", "Checksum") and "ChecksumType" in \
            _model.shape_for("Checksum").members:
        eq(ck.get("ChecksumType"), "FULL_OBJECT", "Checksum.ChecksumType")
    expect("ObjectParts" not in a, f"ObjectParts on a single-part object: {a.get('ObjectParts')}")
    eq(a.get("VersionId"), r.get("VersionId"), "VersionId (x-amz-version-id)")
    expect(a.get("LastModified") is not None, "no Last-Modified")
    # only what is asked
    a = s3.get_object_attributes(Bucket=b, Key="k", ObjectAttributes=["ObjectSize"])
    eq((a.get("ObjectSize"), a.get("ETag"), a.get("Checksum"), a.get("StorageClass")),
       (len(body), None, None, None), "ObjectAttributes=[ObjectSize]: (ObjectSize, ETag, Checksum, StorageClass)")


@check("GetObjectAttributes ?versionId=<older multipart version with CRC32>: ObjectParts (TotalPartsCount, parts "
       "with sizes and CRC32s), MaxParts / PartNumberMarker pagination")
def _():
    """AWS GetObjectAttributes API reference: x-amz-max-parts ("Sets the
    maximum number of parts to return"), x-amz-part-number-marker
    ("Specifies the part after which listing should begin. Only parts with
    higher part numbers will be listed"), versionId ("The version ID used to
    reference a specific version of the object"); GetObjectAttributesParts:
    TotalPartsCount (wire PartsCount), MaxParts, IsTruncated,
    NextPartNumberMarker ("the last part in the list, as well as the value
    to use for the PartNumberMarker request parameter in a subsequent
    request"), PartNumberMarker, Parts ("if an additional checksum ... isn't
    applied ... the response doesn't return Part"); ObjectPart: PartNumber,
    Size, ChecksumCRC32. The object checksum of a multipart upload is the
    checksum of the part checksums (user guide, Checking object integrity:
    "Using part-level checksums for multipart uploads")."""
    b = new_bucket("goa-mp")
    p1, p2, p3 = b"1" * (5 * MiB), b"2" * (5 * MiB), u("third")
    up, parts = mp_upload(b, "k", [p1, p2, p3], algo="CRC32")
    for p, body in zip(parts, (p1, p2, p3)):
        eq(p.get("ChecksumCRC32"), crc32_b64(body), f"UploadPart {p['PartNumber']} ChecksumCRC32")
    c = mp_complete(b, "k", up, parts)
    v1 = c.get("VersionId")
    put(b, "k", u("newer single-part version"))  # v1 is now the older version
    a = s3.get_object_attributes(Bucket=b, Key="k", VersionId=v1, ObjectAttributes=ALL_ATTRS)
    eq(a.get("VersionId"), v1, "VersionId")
    md5s = b"".join(hashlib.md5(x).digest() for x in (p1, p2, p3))
    eq(a.get("ETag"), hashlib.md5(md5s).hexdigest() + "-3", "ETag (md5 of part md5s -3, no quotes)")
    eq(a.get("ObjectSize"), len(p1) + len(p2) + len(p3), "ObjectSize")
    eq(a.get("StorageClass"), "STANDARD", "StorageClass")
    op = a.get("ObjectParts") or {}
    eq(op.get("TotalPartsCount"), 3, "ObjectParts.TotalPartsCount")
    eq(bool(op.get("IsTruncated")), False, "ObjectParts.IsTruncated")
    eq([(p.get("PartNumber"), p.get("Size"), p.get("ChecksumCRC32")) for p in op.get("Parts", [])],
       [(i, len(x), crc32_b64(x)) for i, x in enumerate((p1, p2, p3), 1)],
       "ObjectParts.Parts (PartNumber, Size, ChecksumCRC32)")
    ck = (a.get("Checksum") or {}).get("ChecksumCRC32") or ""
    want = crc32_b64(b"".join(base64.b64decode(crc32_b64(x)) for x in (p1, p2, p3)))
    expect(ck.split("-")[0] == want and ck[len(want):] in ("", "-3"),
           f"Checksum.ChecksumCRC32 {ck!r}: want the CRC32 of the part CRC32s, {want!r} (optionally -3)")
    if "ChecksumType" in _model.shape_for("Checksum").members:
        eq((a.get("Checksum") or {}).get("ChecksumType"), "COMPOSITE", "Checksum.ChecksumType")
    # pagination
    a = s3.get_object_attributes(Bucket=b, Key="k", VersionId=v1, ObjectAttributes=["ObjectParts"], MaxParts=2)
    op = a.get("ObjectParts") or {}
    eq((op.get("TotalPartsCount"), op.get("MaxParts"), bool(op.get("IsTruncated")),
        str(op.get("NextPartNumberMarker")), [p.get("PartNumber") for p in op.get("Parts", [])]),
       (3, 2, True, "2", [1, 2]), "MaxParts=2: (TotalPartsCount, MaxParts, IsTruncated, NextPartNumberMarker, part numbers)")
    a = s3.get_object_attributes(Bucket=b, Key="k", VersionId=v1, ObjectAttributes=["ObjectParts"], MaxParts=2,
                                 PartNumberMarker=int(op["NextPartNumberMarker"]))
    op = a.get("ObjectParts") or {}
    eq((str(op.get("PartNumberMarker")), bool(op.get("IsTruncated")), [p.get("PartNumber") for p in op.get("Parts", [])]),
       ("2", False, [3]), "MaxParts=2 PartNumberMarker=2: (PartNumberMarker, IsTruncated, part numbers)")
    # the current version is single-part: no ObjectParts
    a = s3.get_object_attributes(Bucket=b, Key="k", ObjectAttributes=ALL_ATTRS)
    expect("ObjectParts" not in a, f"current (single-part) version: ObjectParts {a.get('ObjectParts')}")
    eq(a.get("ObjectSize"), len(u("newer single-part version")), "current version ObjectSize")


# ====================================================================== 2 partNumber
@check("GET/HEAD ?partNumber beyond the part count: 400 InvalidPartNumber (multipart and single-part objects)")
def _():
    """A partNumber the object does not have (1..10000, more than its part
    count) is code InvalidPartNumber. The status is 400, as issue 9 states
    for AWS; note that OpenStack Swift's s3api tests
    (test_mpu_GET_out_of_range_part_num) and MinIO's
    ErrInvalidPartNumberRange reproduce 416 instead (recorded in the issue's
    closing note). HEAD answers the status without a body.
    Part 2 of the 2-part object reads as that part with x-amz-mp-parts-count
    (GetObject partNumber: "Part numbers can be any number from 1 to
    10,000")."""
    b = new_bucket("partnum")
    put(b, "single", u("0123456789"))
    up, parts = mp_upload(b, "mp", [b"a" * (5 * MiB), b"b"])
    mp_complete(b, "mp", up, parts)
    got, r = read(b, "mp", PartNumber=2)
    eq((got, r.get("ContentLength"), r.get("PartsCount")), (b"b", 1, 2), "GET mp ?partNumber=2 (bytes, length, PartsCount)")
    got, want = [], []
    for key, n in (("mp", 3), ("mp", 10000), ("single", 2)):
        st, code, _ = failure(s3.get_object, Bucket=b, Key=key, PartNumber=n)
        got.append((f"GET {key} ?partNumber={n}", st, code))
        want.append((f"GET {key} ?partNumber={n}", 400, "InvalidPartNumber"))
        st, _, _ = failure(s3.head_object, Bucket=b, Key=key, PartNumber=n)
        got.append((f"HEAD {key} ?partNumber={n}", st))
        want.append((f"HEAD {key} ?partNumber={n}", 400))
    eq(got, want, "(request, HTTP status, error code) for each part beyond the count")


@check("GET/HEAD ?partNumber=1 of a single-part object: the whole object, PartsCount absent or 1")
def _():
    """AWS GetObject / HeadObject partNumber ("Part number of the object
    being read. This is a positive integer between 1 and 10,000. Effectively
    performs a 'ranged' GET request for the part specified"): a single-part
    object is its own part 1, so the whole object is answered (200 or 206),
    and AWS sends no x-amz-mp-parts-count (or 1) for it."""
    b = new_bucket("partone")
    body = u("0123456789")
    put(b, "k", body)
    got, r = read(b, "k", PartNumber=1)
    expect(status(r) in (200, 206), f"GET ?partNumber=1 HTTP status {status(r)}")
    eq((got, r.get("ContentLength")), (body, len(body)), "GET ?partNumber=1 (bytes, ContentLength)")
    expect(r.get("PartsCount") in (None, 1), f"GET ?partNumber=1 PartsCount {r.get('PartsCount')!r}")
    eq(r.get("ETag"), md5q(body), "GET ?partNumber=1 ETag (the object's)")
    h = s3.head_object(Bucket=b, Key="k", PartNumber=1)
    expect(status(h) in (200, 206), f"HEAD ?partNumber=1 HTTP status {status(h)}")
    eq(h.get("ContentLength"), len(body), "HEAD ?partNumber=1 ContentLength")
    expect(h.get("PartsCount") in (None, 1), f"HEAD ?partNumber=1 PartsCount {h.get('PartsCount')!r}")


# ====================================================================== 3 re-sent part
@check("UploadPart of part 1 twice with other bytes: completing with the old ETag is 400 InvalidPart, "
       "with the newest ETag the object is the newest bytes")
def _():
    """AWS UploadPart: "If you upload a new part using the same part number
    that was used with a previous part, the previously uploaded part is
    overwritten"; CompleteMultipartUpload errors: InvalidPart, 400, "One or
    more of the specified parts could not be found. The part might not have
    been uploaded, or the specified entity tag might not have matched the
    part's entity tag"; a failed completion leaves the upload in progress
    (s3-tests test_multipart_upload_resend_part)."""
    b = new_bucket("resend")
    first, second = u("first bytes of part one"), u("SECOND, longer bytes of part one")
    up, old = mp_upload(b, "k", [first])
    r = s3.upload_part(Bucket=b, Key="k", UploadId=up, PartNumber=1, Body=second)
    eq(r.get("ETag"), md5q(second), "re-sent UploadPart ETag")
    want_error(failure(mp_complete, b, "k", up, old), 400, "InvalidPart",
               "CompleteMultipartUpload with the replaced part's ETag")
    want_error(failure(s3.head_object, Bucket=b, Key="k"), 404, None, "HEAD k after the refused completion")
    newest = {"PartNumber": 1, "ETag": r["ETag"]}
    if r.get("ChecksumCRC32"):
        newest["ChecksumCRC32"] = r["ChecksumCRC32"]
    c = mp_complete(b, "k", up, [newest])
    eq(status(c), 200, "CompleteMultipartUpload with the newest ETag: HTTP status")
    got, g = read(b, "k")
    eq(got, second, "object bytes (the newest upload of part 1)")
    eq(g.get("ETag"), '"' + hashlib.md5(hashlib.md5(second).digest()).hexdigest() + '-1"', "object ETag")


# ====================================================================== 4 conditional writes
def cond_setup(prefix):
    b = new_bucket(prefix)
    body = u("current")
    r = s3.put_object(Bucket=b, Key="k", Body=body)
    return b, body, r["ETag"], list_versions(b)


def unchanged(b, body, before, what):
    got, _ = read(b, "k")
    eq(got, body, f"{what}: k's bytes afterwards")
    eq(list_versions(b), before, f"{what}: ListObjectVersions afterwards")


@check("PutObject IfNoneMatch='*' on an existing key: 412 PreconditionFailed, nothing written",
       needs=[("PutObject", "IfNoneMatch")])
def _():
    """AWS PutObject If-None-Match: "Uploads the object only if the object key
    name does not already exist in the bucket specified. Otherwise, Amazon S3
    returns a 412 Precondition Failed error" (user guide, Conditional
    writes)."""
    b, body, _, before = cond_setup("ifnonematch")
    want_error(failure(s3.put_object, Bucket=b, Key="k", Body=u("other"), IfNoneMatch="*"), 412,
               "PreconditionFailed", "PutObject If-None-Match: * on k")
    unchanged(b, body, before, "refused PUT")
    r = s3.put_object(Bucket=b, Key="fresh", Body=u("fresh"), IfNoneMatch="*")
    eq(status(r), 200, "PutObject If-None-Match: * on a new key: HTTP status")


@check("PutObject IfMatch with a wrong ETag: 412 PreconditionFailed, nothing written",
       needs=[("PutObject", "IfMatch")])
def _():
    """AWS PutObject If-Match: "Uploads the object only if the ETag (entity
    tag) value provided during the WRITE operation matches the ETag of the
    object in S3. If the ETag values do not match, the operation returns a
    412 Precondition Failed error" (user guide, Conditional writes)."""
    b, body, etag, before = cond_setup("ifmatchput")
    want_error(failure(s3.put_object, Bucket=b, Key="k", Body=u("other"), IfMatch=md5q(b"not the body")), 412,
               "PreconditionFailed", "PutObject If-Match: <wrong ETag>")
    unchanged(b, body, before, "refused PUT")
    r = s3.put_object(Bucket=b, Key="k", Body=u("replaced"), IfMatch=etag)
    eq(status(r), 200, "PutObject If-Match: <right ETag>: HTTP status")


@check("PutObject IfMatch on a missing key: 404 NoSuchKey, nothing written",
       needs=[("PutObject", "IfMatch")])
def _():
    """AWS user guide, How to prevent object overwrites with conditional
    writes (If-Match): the header is evaluated against the current object
    of the key; when there is none (no object, or a delete marker) the
    write fails with 404 Not Found, code NoSuchKey (PutObject API
    reference, If-Match; S3's answer as the aws-sdk-go-v2 test
    TestConditionalWritesAsAWS records it)."""
    b, body, etag, before = cond_setup("ifmatchmiss")
    want_error(failure(s3.put_object, Bucket=b, Key="missing", Body=u("other"), IfMatch=etag), 404,
               "NoSuchKey", "PutObject If-Match on a missing key")
    unchanged(b, body, before, "refused PUT")
    want_error(failure(s3.head_object, Bucket=b, Key="missing"), 404, None, "HEAD missing afterwards")


@check("DeleteObject IfMatch with a wrong ETag: 412 PreconditionFailed, nothing deleted",
       needs=[("DeleteObject", "IfMatch")])
def _():
    """AWS DeleteObject If-Match: "Deletes the object if the ETag (entity
    tag) value provided during the delete operation matches the ETag of the
    object in S3. If the ETag values do not match, the operation returns a
    412 Precondition Failed error" (user guide, Conditional deletes)."""
    b, body, etag, before = cond_setup("ifmatchdel")
    want_error(failure(s3.delete_object, Bucket=b, Key="k", IfMatch=md5q(b"not the body")), 412,
               "PreconditionFailed", "DeleteObject If-Match: <wrong ETag>")
    unchanged(b, body, before, "refused DELETE")
    r = s3.delete_object(Bucket=b, Key="k", IfMatch=etag)
    eq(status(r), 204, "DeleteObject If-Match: <right ETag>: HTTP status")


# ====================================================================== 5 presigned expiry
@check("presigned GET URL (ExpiresIn=1) fetched 2 s later: 403 AccessDenied, 'Request has expired'")
def _():
    """AWS user guide, Sharing objects with presigned URLs ("If you attempt
    to use an expired presigned URL, ... Amazon S3 returns an error"); the
    S3 answer is 403 with <Code>AccessDenied</Code> and <Message>Request has
    expired</Message> (plus X-Amz-Expires / Expires / ServerTime elements),
    AWS Signature Version 4, Authenticating requests: query parameters
    (X-Amz-Expires "the time period, in seconds, for which the generated
    presigned URL is valid")."""
    b = new_bucket("presign")
    put(b, "k", u("presigned"))
    url = s3.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "k"}, ExpiresIn=1)
    time.sleep(2)  # wall-clock expiry, not synchronisation
    pu = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(pu.hostname, pu.port, timeout=30)
    try:
        conn.request("GET", pu.path + "?" + pu.query)
        resp = conn.getresponse()
        st, body = resp.status, resp.read()
    finally:
        conn.close()
    eq(st, 403, "expired presigned GET: HTTP status")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        raise AssertionError(f"error body is not XML ({e}): {body[:300]!r}")
    code, msg = root.findtext("Code"), root.findtext("Message") or ""
    eq(code, "AccessDenied", "expired presigned GET: error Code")
    expect("Request has expired" in msg, f"expired presigned GET: Message {msg!r} lacks 'Request has expired'")


# ====================================================================== 6 list echoes
def newline_bucket(prefix):
    b = new_bucket(prefix)
    for k in ("\nfirst", "\na\nb", "plain", "sp ace"):
        put(b, k, u(k))
    return b


@check("ListObjectsV2 with ContinuationToken='' lists from the start, as with no token")
def _():
    """AWS documents continuation-token as "ContinuationToken indicates to
    Amazon S3 that the list is being continued on this bucket with a token";
    an empty one continues nothing: the listing is the first page, as
    without the parameter (Tusk's own contract for it, test/e2e_surface_test.go
    TestListEcho; AWS documents no other answer for an empty token)."""
    b = newline_bucket("emptytoken")
    sent = []

    def grab(request, **_):
        sent.append(request.url)
    s3.meta.events.register("before-send.s3.ListObjectsV2", grab)
    try:
        try:
            r = s3.list_objects_v2(Bucket=b, ContinuationToken="", MaxKeys=2)
        except Exception as e:  # botocore's own parameter validation
            if not sent:
                raise Skip(f"boto3 refuses ContinuationToken='' client-side: {e}")
            raise
    finally:
        s3.meta.events.unregister("before-send.s3.ListObjectsV2", grab)
    if not any("continuation-token=" in x for x in sent):
        raise Skip(f"boto3 drops an empty ContinuationToken from the request: {sent}")
    want = s3.list_objects_v2(Bucket=b, MaxKeys=2)
    eq(status(r), 200, "HTTP status")
    eq([o["Key"] for o in r.get("Contents", [])], [o["Key"] for o in want.get("Contents", [])],
       "keys of the first page (vs no token)")
    eq([o["Key"] for o in r.get("Contents", [])], ["\na\nb", "\nfirst"], "keys of the first page")
    eq((r.get("KeyCount"), r.get("IsTruncated"), bool(r.get("NextContinuationToken"))), (2, True, True),
       "(KeyCount, IsTruncated, NextContinuationToken present)")
    expect(r.get("ContinuationToken") in (None, ""), f"echoed ContinuationToken {r.get('ContinuationToken')!r}")
    nxt = s3.list_objects_v2(Bucket=b, ContinuationToken=r["NextContinuationToken"], MaxKeys=2)
    eq([o["Key"] for o in nxt.get("Contents", [])], ["plain", "sp ace"], "keys of the second page")


@check("ListObjects (v1) Prefix and Delimiter '\\n': the parsed Prefix is the raw '\\n', keys and common prefixes exact")
def _():
    """AWS ListObjects: Prefix / Delimiter elements echo the request;
    with encoding-type=url (botocore adds it to every ListObjects call)
    "Amazon S3 encodes ... Delimiter, Marker, Prefix, NextMarker, Key"
    in the response, but AWS's v1 answer leaves <Prefix> as sent and
    botocore decodes only Delimiter, Marker, NextMarker, Contents.Key and
    CommonPrefixes.Prefix for v1 (botocore handlers.decode_list_object), so
    the raw prefix is what a boto3 user must see."""
    b = newline_bucket("nlprefix")
    r = s3.list_objects(Bucket=b, Prefix="\n", Delimiter="\n")
    eq(r.get("Prefix"), "\n", "Prefix")
    eq(r.get("Delimiter"), "\n", "Delimiter")
    eq([o["Key"] for o in r.get("Contents", [])], ["\nfirst"], "Contents keys")
    eq([p["Prefix"] for p in r.get("CommonPrefixes", [])], ["\na\n"], "CommonPrefixes")
    r = s3.list_objects(Bucket=b, Prefix="\n")
    eq((r.get("Prefix"), [o["Key"] for o in r.get("Contents", [])]), ("\n", ["\na\nb", "\nfirst"]),
       "Prefix '\\n' without a delimiter: (Prefix, keys)")


@check("ListObjectsV2 Prefix and Delimiter '\\n': the parsed Prefix is '\\n', keys and common prefixes exact")
def _():
    """AWS ListObjectsV2 with encoding-type=url (botocore adds it): Prefix,
    Delimiter, StartAfter, Key and CommonPrefixes.Prefix are URL-encoded in
    the answer and botocore decodes them (handlers.decode_list_object_v2),
    so the parsed answer is the raw values."""
    b = newline_bucket("nlprefix2")
    r = s3.list_objects_v2(Bucket=b, Prefix="\n", Delimiter="\n")
    eq(r.get("Prefix"), "\n", "Prefix")
    eq(r.get("Delimiter"), "\n", "Delimiter")
    eq([o["Key"] for o in r.get("Contents", [])], ["\nfirst"], "Contents keys")
    eq([p["Prefix"] for p in r.get("CommonPrefixes", [])], ["\na\n"], "CommonPrefixes")


# ====================================================================== 7 keys
def key_round_trip(prefix, key):
    """PUT, GET, HEAD, ListObjects v1 and v2 (with and without a prefix) of
    one key in its own bucket."""
    b = new_bucket(prefix)
    body = u(f"key {key!r}")
    r = s3.put_object(Bucket=b, Key=key, Body=body)
    eq(status(r), 200, f"PUT {key!r} HTTP status")
    got, g = read(b, key)
    eq(got, body, f"GET {key!r} bytes")
    eq(g.get("ETag"), md5q(body), f"GET {key!r} ETag")
    h = s3.head_object(Bucket=b, Key=key)
    eq(h.get("ContentLength"), len(body), f"HEAD {key!r} ContentLength")
    eq([o["Key"] for o in s3.list_objects_v2(Bucket=b).get("Contents", [])], [key], "ListObjectsV2 keys")
    eq([o["Key"] for o in s3.list_objects(Bucket=b).get("Contents", [])], [key], "ListObjects keys")
    eq([o["Key"] for o in s3.list_objects_v2(Bucket=b, Prefix=key).get("Contents", [])], [key],
       f"ListObjectsV2 Prefix={key!r} keys")
    r = s3.delete_object(Bucket=b, Key=key)
    eq(status(r), 204, f"DELETE {key!r} HTTP status")
    want_error(failure(s3.head_object, Bucket=b, Key=key), 404, None, f"HEAD {key!r} after DELETE")
    eq(s3.list_objects_v2(Bucket=b).get("KeyCount"), 0, "ListObjectsV2 KeyCount after DELETE")


KEY_DOC = """AWS user guide, Naming Amazon S3 objects: "The name for a key is a
    sequence of Unicode characters whose UTF-8 encoding is at most 1,024
    bytes long"; the flat namespace has no folders, and "." / ".." path
    segments and "/" runs are ordinary characters of the key (the guide
    warns only that some tools treat them specially); SPEC.md §3 ("..,
    // and trailing / included, round-trips unchanged")."""

for _n, (_pfx, _key) in enumerate((("dotdot", ".."), ("dslash", "a//b"), ("trail", "trailing/"), ("dotx", "./x"))):
    def _(p=_pfx, k=_key):
        key_round_trip(p, k)
    _.__doc__ = KEY_DOC
    check(f"key {_key!r} round-trips through PutObject, GetObject, HeadObject, ListObjects v1/v2, DeleteObject")(_)


# ====================================================================== 8 CopyObject metadata
@check("CopyObject MetadataDirective COPY: the copy has the source's user metadata and Content-Type")
def _():
    """AWS CopyObject x-amz-metadata-directive: "Specifies whether the
    metadata is copied from the source object or replaced with metadata
    that's provided in the request ... COPY" (the default: "all object
    metadata is copied from the source"); s3-tests
    test_object_copy_retaining_metadata."""
    b = new_bucket("copymeta")
    body = u("copy source")
    put(b, "src", body, Metadata={"colour": "blue", "n": "1"}, ContentType="text/x-src")
    r = s3.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "src"}, MetadataDirective="COPY")
    eq(status(r), 200, "CopyObject HTTP status")
    eq((r.get("CopyObjectResult") or {}).get("ETag"), md5q(body), "CopyObjectResult ETag")
    got, g = read(b, "dst")
    eq((got, g.get("Metadata"), g.get("ContentType")), (body, {"colour": "blue", "n": "1"}, "text/x-src"),
       "GET dst (bytes, Metadata, ContentType)")
    # the default directive is COPY too
    s3.copy_object(Bucket=b, Key="dst2", CopySource={"Bucket": b, "Key": "src"})
    h = s3.head_object(Bucket=b, Key="dst2")
    eq((h.get("Metadata"), h.get("ContentType")), ({"colour": "blue", "n": "1"}, "text/x-src"),
       "HEAD dst2 (no directive) (Metadata, ContentType)")


@check("CopyObject MetadataDirective REPLACE: the copy has exactly the request's user metadata and Content-Type")
def _():
    """AWS CopyObject x-amz-metadata-directive REPLACE ("the metadata is ...
    replaced with metadata that's provided in the request"; nothing of the
    source's user metadata remains); copying an object onto itself is
    allowed with REPLACE; s3-tests test_object_copy_replacing_metadata."""
    b = new_bucket("replmeta")
    body = u("replace source")
    put(b, "src", body, Metadata={"colour": "blue", "n": "1"}, ContentType="text/x-src")
    r = s3.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "src"}, MetadataDirective="REPLACE",
                       Metadata={"colour": "red", "new": "yes"}, ContentType="text/x-new")
    eq(status(r), 200, "CopyObject HTTP status")
    got, g = read(b, "dst")
    eq((got, g.get("Metadata"), g.get("ContentType")), (body, {"colour": "red", "new": "yes"}, "text/x-new"),
       "GET dst (bytes, Metadata, ContentType)")
    h = s3.head_object(Bucket=b, Key="src")
    eq((h.get("Metadata"), h.get("ContentType")), ({"colour": "blue", "n": "1"}, "text/x-src"),
       "HEAD src unchanged (Metadata, ContentType)")
    # onto itself
    s3.copy_object(Bucket=b, Key="src", CopySource={"Bucket": b, "Key": "src"}, MetadataDirective="REPLACE",
                   Metadata={"only": "this"}, ContentType="text/x-self")
    got, g = read(b, "src")
    eq((got, g.get("Metadata"), g.get("ContentType")), (body, {"only": "this"}, "text/x-self"),
       "GET src after copying onto itself with REPLACE (bytes, Metadata, ContentType)")


finish()
