#!/usr/bin/env python3
"""S3 object-versioning conformance checks, run by test/conformance/run.sh.

usage: versioning.py ENDPOINT [LABEL]
keys: env TUSK_TEST_ACCESS_KEY / TUSK_TEST_SECRET_KEY.

Every check asserts what AWS S3 documents (or what s3-tests / S3 captures
show AWS answering), never what Tusk happens to do: the source of each
expected answer is named in the check's docstring. Every check makes its own
buckets (random suffix) so that one failure does not cascade. Prints "ok - "
/ "not ok - " per check with expected-vs-got on "#" lines; exits 1 if any
check failed.

The one place Tusk's contract departs from AWS on purpose (SPEC.md §4): a
new bucket (repo) answers GetBucketVersioning Status=Enabled, where AWS
answers no Status for a never-configured bucket.
"""
import concurrent.futures
import random
import re
import threading
import time
import xml.etree.ElementTree as ET

from conform import (check, eq, expect, failure, hdrs, md5q, new_bucket, put, read, s3, status, u,
                     want_error, banner, finish)

banner("versioning.py")


# ListObjectVersions answers keep versions and delete markers in one ordered
# sequence; boto3 splits them into two lists. Keep the raw XML to read the
# order from.
def _keep_raw(http_response, parsed, **_):
    if isinstance(parsed, dict):
        parsed["_raw"] = http_response.content


s3.meta.events.register("after-call.s3.ListObjectVersions", _keep_raw)

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def _local(tag):
    return tag.split("}", 1)[-1]


def listing(bucket, **kw):
    """One ListObjectVersions page: (entries in document order, page)."""
    r = s3.list_object_versions(Bucket=bucket, **kw)
    root = ET.fromstring(r["_raw"])
    out = []
    for el in root:
        kind = _local(el.tag)
        if kind not in ("Version", "DeleteMarker"):
            continue
        f = {_local(c.tag): (c.text or "") for c in el}
        out.append({
            "kind": "V" if kind == "Version" else "DM",
            "key": f.get("Key"),
            "vid": f.get("VersionId"),
            "latest": f.get("IsLatest") == "true",
            "etag": f.get("ETag"),
            "size": int(f["Size"]) if "Size" in f else None,
            "lm": f.get("LastModified"),
        })
    return out, r


def all_versions(bucket, **kw):
    out, r = listing(bucket, **kw)
    expect(not r.get("IsTruncated"), f"ListObjectVersions {bucket} truncated at {len(out)} entries")
    return out


def short(entries):
    """Compact form for comparisons: [(kind, key, vid, latest)]."""
    return [(e["kind"], e["key"], e["vid"], e["latest"]) for e in entries]


def is_version_id(v):
    # Tusk version ids are commit ids: lowercase hex, 32 chars or more.
    return isinstance(v, str) and re.fullmatch(r"[0-9a-f]{32,}", v) is not None


def fake_version_id():
    # well-formed for Tusk (40 hex chars), never assigned
    return "".join(random.choice("0123456789abcdef") for _ in range(40))


# ====================================================================== 1
@check("issue repro: delete_object(repa, a, VersionId=v1) answers 204 + x-amz-version-id v1 and harms nothing else")
def _():
    """AWS: DeleteObject API ("To remove a specific version, you must use the
    versionId query parameter ... permanently deletes the version"; answer 204
    with x-amz-version-id); Working with objects in a versioning-enabled
    bucket / Deleting object versions. Other keys and buckets are untouched."""
    repa, repb = new_bucket("repa"), new_bucket("repb")
    body = b"hello world 123"
    v1 = put(repa, "a", body)
    v2 = put(repa, "a", b"second")
    vb = put(repa, "b", body)
    put(repb, "c", body)
    r = s3.delete_object(Bucket=repa, Key="a", VersionId=v1)
    eq(status(r), 204, "DeleteObject ?versionId=v1 HTTP status")
    eq(hdrs(r).get("x-amz-version-id"), v1, "DeleteObject ?versionId=v1 x-amz-version-id")
    expect(hdrs(r).get("x-amz-delete-marker") != "true",
           f"x-amz-delete-marker must not be true when a plain version is removed: {hdrs(r)}")
    got, g = read(repa, "b")
    eq(got, body, "repa/b bytes after removing repa/a@v1")
    eq(g.get("VersionId"), vb, "repa/b VersionId")
    got, _ = read(repb, "c")
    eq(got, body, "repb/c bytes after removing repa/a@v1")
    put(repb, "d", body)
    got, _ = read(repb, "d")
    eq(got, body, "repb/d (same bytes put after the removal)")
    got, g = read(repa, "a")
    eq((got, g.get("VersionId")), (b"second", v2), "repa/a now (bytes, VersionId)")
    vs = all_versions(repa, Prefix="a")
    eq(short(vs), [("V", "a", v2, True)], "ListObjectVersions(repa, Prefix=a)")


# ====================================================================== 2
def three_versions(prefix, key="k"):
    b = new_bucket(prefix)
    vids, heads = [], []
    for i in range(3):
        if i:
            time.sleep(1.1)  # Last-Modified has 1 s resolution
        vids.append(put(b, key, u(f"body {i} {'x' * i}"), Metadata={"n": str(i)},
                        ContentType=f"text/x-v{i}"))
    for v in vids:
        heads.append(s3.head_object(Bucket=b, Key=key, VersionId=v))
    expect(all(is_version_id(v) for v in vids) and len(set(vids)) == 3, f"3 distinct version ids: {vids}")
    return b, vids, heads


@check("remove the latest version by id: key reads as the previous version (its own VersionId, ETag, Last-Modified, metadata)")
def _():
    """AWS user guide, Deleting object versions from a versioning-enabled
    bucket: "when you delete the current version ... the previous version
    becomes the current version" (no new version is created, so the id, ETag,
    Last-Modified and metadata are that version's own); s3-tests
    test_versioning_obj_create_read_remove / _head."""
    b, vids, heads = three_versions("rmlatest")
    time.sleep(1.1)
    r = s3.delete_object(Bucket=b, Key="k", VersionId=vids[2])
    eq(status(r), 204, "DeleteObject ?versionId=<latest> HTTP status")
    eq(hdrs(r).get("x-amz-version-id"), vids[2], "DeleteObject x-amz-version-id")
    h = s3.head_object(Bucket=b, Key="k")
    want = heads[1]
    eq(h.get("VersionId"), vids[1], "HEAD k VersionId (the previous version's own id)")
    eq(h.get("ETag"), want["ETag"], "HEAD k ETag")
    eq(h.get("LastModified"), want["LastModified"], "HEAD k Last-Modified (the previous version's own)")
    eq(h.get("Metadata"), {"n": "1"}, "HEAD k Metadata")
    eq(h.get("ContentType"), "text/x-v1", "HEAD k ContentType")
    got, g = read(b, "k")
    eq(got, u("body 1 x"), "GET k bytes")
    eq(g.get("VersionId"), vids[1], "GET k VersionId")
    vs = all_versions(b)
    eq(short(vs), [("V", "k", vids[1], True), ("V", "k", vids[0], False)], "ListObjectVersions")


@check("remove a middle version by id: the list shrinks, the current version is unchanged")
def _():
    """AWS user guide, Deleting object versions (a noncurrent version is
    permanently removed; nothing else changes); s3-tests
    test_versioning_obj_create_read_remove (removes versions at every index)."""
    b, vids, heads = three_versions("rmmid")
    r = s3.delete_object(Bucket=b, Key="k", VersionId=vids[1])
    eq(status(r), 204, "DeleteObject ?versionId=<middle> HTTP status")
    eq(hdrs(r).get("x-amz-version-id"), vids[1], "DeleteObject x-amz-version-id")
    vs = all_versions(b)
    eq(short(vs), [("V", "k", vids[2], True), ("V", "k", vids[0], False)], "ListObjectVersions")
    h = s3.head_object(Bucket=b, Key="k")
    eq((h.get("VersionId"), h.get("ETag"), h.get("LastModified")),
       (vids[2], heads[2]["ETag"], heads[2]["LastModified"]), "HEAD k (VersionId, ETag, Last-Modified)")
    got, _ = read(b, "k", vids[0])
    eq(got, u("body 0 "), "GET k?versionId=<oldest>")


@check("delete without versionId: a delete marker; GET 404 NoSuchKey + x-amz-delete-marker; GET/HEAD ?versionId=<marker> 405")
def _():
    """AWS DeleteObject (versioning-enabled: inserts a delete marker, answers
    x-amz-delete-marker: true and x-amz-version-id of the marker); GetObject:
    "If the current version of the object is a delete marker, Amazon S3
    behaves as if the object was deleted and includes x-amz-delete-marker:
    true in the response. If the specified version is a delete marker, the
    response returns a 405 Method Not Allowed error"; user guide Working with
    delete markers; s3-tests test_versioning_obj_create_read_remove_head."""
    b = new_bucket("dmark")
    v1 = put(b, "k", u("one"))
    r = s3.delete_object(Bucket=b, Key="k")
    eq(status(r), 204, "DeleteObject HTTP status")
    eq(r.get("DeleteMarker"), True, "DeleteObject DeleteMarker (x-amz-delete-marker)")
    dm = r.get("VersionId")
    expect(dm and dm != v1, f"DeleteObject x-amz-version-id must be the new marker's id, got {dm!r} (v1 {v1})")
    st, code, h = failure(s3.get_object, Bucket=b, Key="k")
    want_error((st, code), 404, "NoSuchKey", "GET k")
    eq(h.get("x-amz-delete-marker"), "true", "GET k x-amz-delete-marker")
    st, code, h = failure(s3.get_object, Bucket=b, Key="k", VersionId=dm)
    want_error((st, code), 405, "MethodNotAllowed", "GET k?versionId=<marker>")
    eq(h.get("x-amz-delete-marker"), "true", "GET k?versionId=<marker> x-amz-delete-marker")
    st, code, h = failure(s3.head_object, Bucket=b, Key="k", VersionId=dm)
    want_error((st, code), 405, None, "HEAD k?versionId=<marker>")
    st, code, h = failure(s3.head_object, Bucket=b, Key="k")
    want_error((st, code), 404, None, "HEAD k")
    vs = all_versions(b)
    eq(short(vs), [("DM", "k", dm, True), ("V", "k", v1, False)], "ListObjectVersions")
    eq(s3.list_objects_v2(Bucket=b).get("KeyCount"), 0, "ListObjectsV2 KeyCount (the key is hidden)")
    got, _ = read(b, "k", v1)
    eq(got, u("one"), "GET k?versionId=v1 still reads")


@check("remove the delete marker by its version id: 204 with x-amz-delete-marker true and its id; the key reads again, unchanged")
def _():
    """AWS DeleteObject response headers: x-amz-delete-marker "Indicates
    whether the specified object version that was permanently deleted was
    (true) or was not (false) a delete marker"; user guide Removing delete
    markers ("the previous version becomes current", no new version);
    s3-tests test_versioning_obj_create_read_remove_head."""
    b = new_bucket("undm")
    v1 = put(b, "k", u("one"), Metadata={"m": "1"})
    h1 = s3.head_object(Bucket=b, Key="k")
    time.sleep(1.1)
    dm = s3.delete_object(Bucket=b, Key="k").get("VersionId")
    r = s3.delete_object(Bucket=b, Key="k", VersionId=dm)
    eq(status(r), 204, "DeleteObject ?versionId=<marker> HTTP status")
    eq(hdrs(r).get("x-amz-delete-marker"), "true", "x-amz-delete-marker")
    eq(hdrs(r).get("x-amz-version-id"), dm, "x-amz-version-id")
    got, g = read(b, "k")
    eq(got, u("one"), "GET k bytes")
    eq((g.get("VersionId"), g.get("ETag"), g.get("LastModified"), g.get("Metadata")),
       (v1, h1["ETag"], h1["LastModified"], {"m": "1"}), "GET k (VersionId, ETag, Last-Modified, Metadata)")
    eq(short(all_versions(b)), [("V", "k", v1, True)], "ListObjectVersions")


@check("remove every version and marker: ListObjectVersions empty, HeadObject 404, then DeleteBucket 204")
def _():
    """AWS DeleteBucket: "All objects (including all object versions and
    delete markers) in the bucket must be deleted before the bucket itself
    can be deleted" (answer 204 No Content); s3-tests
    test_versioning_obj_create_versions_remove_all."""
    b = new_bucket("rmall")
    v1 = put(b, "k", u("one"))
    v2 = put(b, "k", u("two"))
    dm = s3.delete_object(Bucket=b, Key="k").get("VersionId")
    v3 = put(b, "j", u("jay"))
    for key, v in (("k", dm), ("k", v1), ("j", v3), ("k", v2)):
        r = s3.delete_object(Bucket=b, Key=key, VersionId=v)
        eq(status(r), 204, f"DeleteObject {key}?versionId={v}")
    vs, page = listing(b)
    eq(short(vs), [], "ListObjectVersions entries")
    expect("Versions" not in page and "DeleteMarkers" not in page,
           f"ListObjectVersions still has Versions/DeleteMarkers: {page.get('Versions')} {page.get('DeleteMarkers')}")
    for key in ("k", "j"):
        st, _, _ = failure(s3.head_object, Bucket=b, Key=key)
        eq(st, 404, f"HEAD {key} HTTP status")
    r = s3.delete_bucket(Bucket=b)
    eq(status(r), 204, "DeleteBucket HTTP status")
    st, _, _ = failure(s3.head_bucket, Bucket=b)
    eq(st, 404, "HeadBucket after DeleteBucket")


@check("DeleteBucket while a noncurrent version remains (key hidden by a marker): 409 BucketNotEmpty")
def _():
    """AWS DeleteBucket ("All objects (including all object versions and
    delete markers) ... must be deleted"); error code BucketNotEmpty, 409
    (Error responses: "The bucket you tried to delete is not empty")."""
    b = new_bucket("nemptyv")
    put(b, "k", u("one"))
    dm = s3.delete_object(Bucket=b, Key="k").get("VersionId")
    eq(s3.list_objects_v2(Bucket=b).get("KeyCount"), 0, "ListObjectsV2 KeyCount")
    want_error(failure(s3.delete_bucket, Bucket=b), 409, "BucketNotEmpty", "DeleteBucket with a version left")
    # with only the version (marker removed) too
    s3.delete_object(Bucket=b, Key="k", VersionId=dm)
    want_error(failure(s3.delete_bucket, Bucket=b), 409, "BucketNotEmpty", "DeleteBucket with the version current")


@check("DeleteBucket while only a delete marker remains: 409 BucketNotEmpty")
def _():
    """AWS DeleteBucket (delete markers must be deleted too); DeleteObject
    on a versioning-enabled bucket inserts a delete marker even when the key
    has no version (user guide Working with delete markers; s3-tests
    test_versioning_stack_delete_merkers)."""
    b = new_bucket("nemptydm")
    v1 = put(b, "k", u("one"))
    r = s3.delete_object(Bucket=b, Key="k")
    s3.delete_object(Bucket=b, Key="k", VersionId=v1)
    eq(short(all_versions(b)), [("DM", "k", r.get("VersionId"), True)], "ListObjectVersions (only the marker)")
    want_error(failure(s3.delete_bucket, Bucket=b), 409, "BucketNotEmpty", "DeleteBucket with a marker left")
    b2 = new_bucket("nemptydm2")
    r = s3.delete_object(Bucket=b2, Key="never-written")
    eq(r.get("DeleteMarker"), True, "DeleteObject of a never-written key: DeleteMarker")
    eq(short(all_versions(b2)), [("DM", "never-written", r.get("VersionId"), True)],
       "ListObjectVersions after deleting a never-written key")
    want_error(failure(s3.delete_bucket, Bucket=b2), 409, "BucketNotEmpty", "DeleteBucket with only that marker")


# ====================================================================== 3
@check("GET/HEAD ?versionId=<removed version>: 404 NoSuchVersion (HEAD: 404, no body)")
def _():
    """AWS Error responses: NoSuchVersion, 404, "Indicates that the version
    ID specified in the request does not match an existing version";
    s3-tests test_versioning_obj_create_read_remove_head (removed versions
    read as NoSuchVersion); HEAD answers carry no body."""
    b = new_bucket("nsv")
    v1 = put(b, "k", u("one"))
    put(b, "k", u("two"))
    s3.delete_object(Bucket=b, Key="k", VersionId=v1)
    want_error(failure(s3.get_object, Bucket=b, Key="k", VersionId=v1), 404, "NoSuchVersion", "GET ?versionId=<removed>")
    st, code, h = failure(s3.head_object, Bucket=b, Key="k", VersionId=v1)
    eq(st, 404, "HEAD ?versionId=<removed> HTTP status")
    # a version id never assigned, well-formed
    want_error(failure(s3.get_object, Bucket=b, Key="k", VersionId=fake_version_id()), 404, "NoSuchVersion",
               "GET ?versionId=<never assigned>")


@check("DeleteObject of a well-formed version id that does not exist: 204 echoing the id, nothing created")
def _():
    """S3 answers success with the requested version id (captured against
    AWS in versity/versitygw#1758 and scality/cloudserver#725); deleting an
    already-removed version again succeeds (s3-tests
    test_versioning_multi_object_delete: "now remove again, should all
    succeed due to idempotency")."""
    b = new_bucket("delabsent")
    v1 = put(b, "k", u("one"))
    v2 = put(b, "k", u("two"))
    before = short(all_versions(b))
    for key, vid, what in (("k", fake_version_id(), "never-assigned id, existing key"),
                           ("nokey", fake_version_id(), "never-assigned id, absent key")):
        r = s3.delete_object(Bucket=b, Key=key, VersionId=vid)
        eq(status(r), 204, f"DeleteObject {what}: HTTP status")
        eq(hdrs(r).get("x-amz-version-id"), vid, f"DeleteObject {what}: x-amz-version-id")
        expect(hdrs(r).get("x-amz-delete-marker") != "true", f"{what}: x-amz-delete-marker true: {hdrs(r)}")
    eq(short(all_versions(b)), before, "ListObjectVersions unchanged")
    s3.delete_object(Bucket=b, Key="k", VersionId=v1)
    r = s3.delete_object(Bucket=b, Key="k", VersionId=v1)
    eq(status(r), 204, "DeleteObject of an already-removed version again: HTTP status")
    eq(short(all_versions(b)), [("V", "k", v2, True)], "ListObjectVersions after the repeated removal")


@check("DeleteObject / GetObject with a malformed version id: 400 InvalidArgument")
def _():
    """S3 answers 400 InvalidArgument "Invalid version id specified" for a
    version id it cannot parse (captured against AWS in versity/versitygw#842,
    #1758). Tusk ids are 32+ lowercase hex chars, so "not-a-version-id" is
    malformed; nothing must be deleted."""
    b = new_bucket("badvid")
    v1 = put(b, "k", u("one"))
    want_error(failure(s3.delete_object, Bucket=b, Key="k", VersionId="not-a-version-id"), 400, "InvalidArgument",
               "DeleteObject ?versionId=not-a-version-id")
    want_error(failure(s3.get_object, Bucket=b, Key="k", VersionId="not-a-version-id"), 400, "InvalidArgument",
               "GetObject ?versionId=not-a-version-id")
    eq(short(all_versions(b)), [("V", "k", v1, True)], "ListObjectVersions unchanged")


# ====================================================================== 4
@check("DeleteObjects with VersionIds (current, noncurrent, only, a delete marker, none): per-entry Deleted results, then the listing")
def _():
    """AWS DeleteObjects + DeletedObject: VersionId "The version ID of the
    deleted object"; DeleteMarker "whether the specified object version that
    was permanently deleted was (true) or was not (false) a delete marker
    ... In a simple DELETE, whether the current version is a delete marker";
    DeleteMarkerVersionId "The version ID of the delete marker created ...
    If you delete a specific object version, ... the version ID of the
    object version deleted"; s3-tests test_versioning_multi_object_delete,
    test_versioning_multi_object_delete_with_marker(_create)."""
    b = new_bucket("multidel")
    k1a = put(b, "k1", u("k1 a"))
    k1b = put(b, "k1", u("k1 b"))             # k1: remove current -> k1a current
    k2a = put(b, "k2", u("k2 a"))             # k2: remove its only version -> gone
    k3a = put(b, "k3", u("k3 a"))
    dm3 = s3.delete_object(Bucket=b, Key="k3")["VersionId"]  # k3: remove the marker -> k3a current
    k4a = put(b, "k4", u("k4 a"))
    k4b = put(b, "k4", u("k4 b"))             # k4: remove noncurrent k4a
    k5a = put(b, "k5", u("k5 a"))             # k5: no VersionId -> new marker
    r = s3.delete_objects(Bucket=b, Delete={"Objects": [
        {"Key": "k1", "VersionId": k1b}, {"Key": "k2", "VersionId": k2a}, {"Key": "k3", "VersionId": dm3},
        {"Key": "k4", "VersionId": k4a}, {"Key": "k5"}]})
    eq(r.get("Errors", []), [], "DeleteObjects Errors")
    got = {d["Key"]: d for d in r.get("Deleted", [])}
    eq(sorted(got), ["k1", "k2", "k3", "k4", "k5"], "Deleted keys")
    for key, vid in (("k1", k1b), ("k2", k2a), ("k4", k4a)):
        d = got[key]
        eq(d.get("VersionId"), vid, f"Deleted {key} VersionId")
        expect(not d.get("DeleteMarker"), f"Deleted {key}: DeleteMarker must not be true (a content version): {d}")
        expect(d.get("DeleteMarkerVersionId") in (None, vid),
               f"Deleted {key}: DeleteMarkerVersionId must be absent or the deleted version {vid}: {d}")
    d = got["k3"]
    eq((d.get("VersionId"), d.get("DeleteMarker")), (dm3, True), "Deleted k3 (the marker): (VersionId, DeleteMarker)")
    expect(d.get("DeleteMarkerVersionId") in (None, dm3),
           f"Deleted k3: DeleteMarkerVersionId must be absent or the marker's id {dm3}: {d}")
    d = got["k5"]
    eq(d.get("DeleteMarker"), True, "Deleted k5 (no VersionId): DeleteMarker")
    dm5 = d.get("DeleteMarkerVersionId")
    expect(dm5 and dm5 != k5a, f"Deleted k5: DeleteMarkerVersionId must be a new marker id: {d}")
    expect(d.get("VersionId") in (None, dm5), f"Deleted k5: VersionId must be absent (simple delete): {d}")
    eq(short(all_versions(b)), [
        ("V", "k1", k1a, True),
        ("V", "k3", k3a, True),
        ("V", "k4", k4b, True),
        ("DM", "k5", dm5, True), ("V", "k5", k5a, False),
    ], "ListObjectVersions after DeleteObjects")
    for key, vid, body in (("k1", k1a, u("k1 a")), ("k3", k3a, u("k3 a")), ("k4", k4b, u("k4 b"))):
        got_b, g = read(b, key)
        eq((got_b, g.get("VersionId")), (body, vid), f"GET {key} (bytes, VersionId)")
    want_error(failure(s3.get_object, Bucket=b, Key="k2"), 404, "NoSuchKey", "GET k2")


@check("DeleteObjects with absent and malformed version ids: absent -> Deleted with that id; malformed -> Error NoSuchVersion")
def _():
    """Absent well-formed ids are deleted idempotently (s3-tests
    test_versioning_multi_object_delete, second round); S3's answer for an
    unparsable id in DeleteObjects is a per-entry <Error> with <Code>
    NoSuchVersion</Code> and the <VersionId> (S3 capture in
    versity/versitygw#2119). Nothing else changes."""
    b = new_bucket("multiabs")
    v1 = put(b, "k", u("one"))
    fake = fake_version_id()
    r = s3.delete_objects(Bucket=b, Delete={"Objects": [
        {"Key": "k", "VersionId": fake}, {"Key": "k", "VersionId": "not-a-version-id"}]})
    eq([(d.get("Key"), d.get("VersionId")) for d in r.get("Deleted", [])], [("k", fake)], "Deleted")
    eq([(e.get("Key"), e.get("VersionId"), e.get("Code")) for e in r.get("Errors", [])],
       [("k", "not-a-version-id", "NoSuchVersion")], "Errors")
    eq(short(all_versions(b)), [("V", "k", v1, True)], "ListObjectVersions unchanged")


# ====================================================================== 5
def set_versioning(b, st):
    r = s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": st})
    eq(status(r), 200, f"PutBucketVersioning {st} HTTP status")


@check("GetBucketVersioning of a new bucket is Enabled (Tusk contract)")
def _():
    """SPEC.md §4: every repo is versioned from the start (Tusk departs from
    AWS here, which answers no Status for a never-configured bucket)."""
    b = new_bucket("vnew")
    r = s3.get_bucket_versioning(Bucket=b)
    eq(status(r), 200, "GetBucketVersioning HTTP status")
    eq(r.get("Status"), "Enabled", "new bucket Status")


@check("GetBucketVersioning returns the status last set (Suspended, Enabled, Enabled, Suspended)")
def _():
    """AWS PutBucketVersioning / GetBucketVersioning ("returns the versioning
    state of a bucket"; once enabled it can only be suspended, never unset);
    s3-tests test_versioning_bucket_create_suspend."""
    b = new_bucket("vstatus")
    for st in ("Suspended", "Enabled", "Enabled", "Suspended"):
        set_versioning(b, st)
        eq(s3.get_bucket_versioning(Bucket=b).get("Status"), st, f"Status after PutBucketVersioning {st}")


def suspended_bucket(prefix):
    b = new_bucket(prefix)
    v1 = put(b, "k", u("enabled one"))
    set_versioning(b, "Suspended")
    return b, v1


@check("Suspended: a PUT makes a version listed as VersionId null; the earlier version stays; GET ?versionId=null reads it")
def _():
    """AWS user guide, Adding objects to versioning-suspended buckets: "Amazon
    S3 automatically adds a version ID of null to every subsequent object
    stored thereafter"; existing versions are kept; s3-tests
    test_versioning_obj_plain_null_version_overwrite_suspended."""
    b, v1 = suspended_bucket("susput")
    put(b, "k", u("null one"))
    got, g = read(b, "k")
    eq(got, u("null one"), "GET k bytes")
    eq(g.get("VersionId", "null"), "null", "GET k VersionId (null or absent)")
    got, g = read(b, "k", "null")
    eq(got, u("null one"), "GET k?versionId=null bytes")
    eq(short(all_versions(b)), [("V", "k", "null", True), ("V", "k", v1, False)], "ListObjectVersions")
    got, _ = read(b, "k", v1)
    eq(got, u("enabled one"), "GET k?versionId=v1")


@check("Suspended: a second PUT replaces the null version (one null listed, earlier versions stay)")
def _():
    """AWS user guide, Adding objects to versioning-suspended buckets: "If a
    null version is already in the bucket and you add another object with
    the same key, the added object overwrites the original null version";
    s3-tests test_versioning_obj_suspend_versions."""
    b, v1 = suspended_bucket("susput2")
    put(b, "k", u("null one"))
    put(b, "k", u("null two, longer"))
    vs = all_versions(b)
    eq(short(vs), [("V", "k", "null", True), ("V", "k", v1, False)], "ListObjectVersions")
    eq(vs[0]["etag"], md5q(u("null two, longer")), "the null version's ETag (the second PUT's)")
    got, _ = read(b, "k", "null")
    eq(got, u("null two, longer"), "GET k?versionId=null")


@check("Suspended: DeleteObject without versionId makes a null delete marker replacing the null version")
def _():
    """AWS user guide, Deleting objects from versioning-suspended buckets:
    "removes the object whose version ID is null ... and inserts a delete
    marker with version ID null"; DeleteObject answers x-amz-delete-marker:
    true; s3-tests test_versioning_obj_suspend_versions
    (delete_suspended_versioning_obj)."""
    b, v1 = suspended_bucket("susdel")
    put(b, "k", u("null one"))
    r = s3.delete_object(Bucket=b, Key="k")
    eq(status(r), 204, "DeleteObject HTTP status")
    eq(r.get("DeleteMarker"), True, "DeleteObject DeleteMarker")
    eq(r.get("VersionId", "null"), "null", "DeleteObject VersionId (null or absent)")
    eq(short(all_versions(b)), [("DM", "k", "null", True), ("V", "k", v1, False)], "ListObjectVersions")
    want_error(failure(s3.get_object, Bucket=b, Key="k"), 404, "NoSuchKey", "GET k")
    # with no null version (current is a real version): the marker is added, v1 stays
    b2, w1 = suspended_bucket("susdel2")
    r = s3.delete_object(Bucket=b2, Key="k")
    eq(r.get("DeleteMarker"), True, "DeleteObject (no null version yet) DeleteMarker")
    eq(short(all_versions(b2)), [("DM", "k", "null", True), ("V", "k", w1, False)],
       "ListObjectVersions (no null version before the delete)")


@check("Suspended: DeleteObject ?versionId=null removes the null marker (key reads again) and the null version")
def _():
    """AWS user guide, Deleting objects from versioning-suspended buckets
    ("you can delete a specific version, including the null version, by
    its version ID"); s3-tests test_versioning_obj_plain_null_version_removal
    and test_versioning_obj_plain_null_version_overwrite_suspended."""
    b, v1 = suspended_bucket("susnull")
    put(b, "k", u("null one"))
    s3.delete_object(Bucket=b, Key="k")  # null marker replaces the null version
    r = s3.delete_object(Bucket=b, Key="k", VersionId="null")
    eq(status(r), 204, "DeleteObject ?versionId=null (marker) HTTP status")
    eq(hdrs(r).get("x-amz-delete-marker"), "true", "x-amz-delete-marker (a marker was removed)")
    eq(short(all_versions(b)), [("V", "k", v1, True)], "ListObjectVersions after removing the null marker")
    got, g = read(b, "k")
    eq((got, g.get("VersionId")), (u("enabled one"), v1), "GET k (bytes, VersionId)")
    put(b, "k", u("null again"))
    r = s3.delete_object(Bucket=b, Key="k", VersionId="null")
    eq(status(r), 204, "DeleteObject ?versionId=null (content) HTTP status")
    expect(hdrs(r).get("x-amz-delete-marker") != "true", f"x-amz-delete-marker true for a content version: {hdrs(r)}")
    eq(short(all_versions(b)), [("V", "k", v1, True)], "ListObjectVersions after removing the null version")
    want_error(failure(s3.get_object, Bucket=b, Key="k", VersionId="null"), 404, "NoSuchVersion",
               "GET ?versionId=null with no null version")


@check("Re-enabled after Suspended: PUTs get real version ids again; the null version stays listed and readable")
def _():
    """AWS user guide, Working with objects in a versioning-enabled bucket /
    Managing objects in a versioning-suspended bucket ("objects stored while
    suspended keep the null version ID"; re-enabling does not change
    existing objects); s3-tests test_versioning_obj_suspend_versions."""
    b, v1 = suspended_bucket("reen")
    put(b, "k", u("null one"))
    set_versioning(b, "Enabled")
    eq(s3.get_bucket_versioning(Bucket=b).get("Status"), "Enabled", "Status")
    v3 = put(b, "k", u("enabled three"))
    expect(is_version_id(v3), f"PUT after re-enabling: VersionId {v3!r} is not a real version id")
    eq(short(all_versions(b)), [("V", "k", v3, True), ("V", "k", "null", False), ("V", "k", v1, False)],
       "ListObjectVersions")
    got, _ = read(b, "k", "null")
    eq(got, u("null one"), "GET k?versionId=null")
    # removing the current real version: the null version is current again
    s3.delete_object(Bucket=b, Key="k", VersionId=v3)
    got, g = read(b, "k")
    eq((got, g.get("VersionId", "null")), (u("null one"), "null"), "GET k after removing v3 (bytes, VersionId)")


# ====================================================================== 6
def check_pagination(b, want_len):
    full = all_versions(b)
    eq(len(full), want_len, f"full listing length ({short(full)})")
    pages, kw = [], {}
    for i in range(want_len + 5):
        entries, page = listing(b, MaxKeys=1, **kw)
        expect(len(entries) == 1, f"page {i}: {len(entries)} entries with MaxKeys=1: {short(entries)}")
        pages.append(entries[0])
        last = i == len(full) - 1
        eq(bool(page.get("IsTruncated")), not last, f"page {i} IsTruncated")
        if last:
            break
        eq((page.get("NextKeyMarker"), page.get("NextVersionIdMarker")), (entries[0]["key"], entries[0]["vid"]),
           f"page {i} (NextKeyMarker, NextVersionIdMarker)")
        kw = {"KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}
    eq(short(pages), short(full), "entries of the MaxKeys=1 pages")
    # exact markers from any position
    for i, en in enumerate(full):
        entries = all_versions(b, KeyMarker=en["key"], VersionIdMarker=en["vid"])
        eq(short(entries), short(full[i + 1:]), f"KeyMarker={en['key']} VersionIdMarker={en['vid']}")
    for km in sorted({e["key"] for e in full} | {"0", "m", "zz"}):
        entries = all_versions(b, KeyMarker=km)
        eq(short(entries), short([e for e in full if e["key"] > km]), f"KeyMarker={km} alone")
    return full


PAGINATION_DOC = """AWS ListObjectVersions: MaxKeys, IsTruncated, NextKeyMarker /
    NextVersionIdMarker ("use this value for the key-marker /
    version-id-marker request parameter in a subsequent request"); the
    listing resumes after (KeyMarker, VersionIdMarker); KeyMarker alone
    starts after every version of that key; s3-tests
    test_versioning_obj_list_marker."""


@check("ListObjectVersions MaxKeys=1 pagination over versions, a removed version and a delete marker: exact markers")
def _():
    b = new_bucket("pages")
    put(b, "a", u("a1"))
    va2 = put(b, "a", u("a2"))
    put(b, "a", u("a3"))
    put(b, "a", u("a4"))
    s3.delete_object(Bucket=b, Key="a", VersionId=va2)
    put(b, "b", u("b1"))
    s3.delete_object(Bucket=b, Key="b")
    put(b, "c", u("c1"))
    check_pagination(b, 6)


@check("ListObjectVersions MaxKeys=1 pagination with a null version (Suspended then Enabled): exact markers")
def _():
    b = new_bucket("pagesnull")
    put(b, "a", u("a1"))
    put(b, "n", u("n1"))
    set_versioning(b, "Suspended")
    put(b, "n", u("n-null"))
    set_versioning(b, "Enabled")
    put(b, "n", u("n3"))
    put(b, "z", u("z1"))
    full = check_pagination(b, 5)
    eq([e["vid"] for e in full if e["key"] == "n"][1], "null", "n's middle version is null")


# ====================================================================== 7
@check("8 threads alternately PUT and DELETE one key: the version list is exactly the acknowledged ids, one IsLatest")
def _():
    """AWS user guide, How S3 Versioning works ("each write creates a new
    version with a unique version ID"; DELETE on a versioned bucket inserts
    a delete marker, stacked ones included: s3-tests
    test_versioning_stack_delete_merkers); s3-tests
    test_versioned_concurrent_object_create_and_remove."""
    b = new_bucket("conc")
    acked, lock = [], threading.Lock()

    def worker(t):
        for i in range(6):
            if (t + i) % 2 == 0:
                v = put(b, "k", f"t{t} i{i}".encode())
                kind = "V"
            else:
                r = s3.delete_object(Bucket=b, Key="k")
                expect(r.get("DeleteMarker") is True, f"thread {t} op {i}: DeleteObject DeleteMarker {r.get('DeleteMarker')}")
                v = r.get("VersionId")
                kind = "DM"
            with lock:
                acked.append((kind, v))

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        list(ex.map(worker, range(8)))
    eq(len(acked), 48, "acknowledged writes")
    vs = all_versions(b)
    eq(sorted((e["kind"], e["vid"]) for e in vs), sorted(acked), "listed (kind, version id) vs acknowledged")
    eq(len({v for _, v in acked}), 48, "distinct acknowledged version ids")
    eq([e["latest"] for e in vs].count(True), 1, "entries with IsLatest")
    expect(vs[0]["latest"], f"IsLatest must be on the first (newest) entry: {short(vs)[:3]}")
    # the newest acknowledged write, after all others: it is the latest
    v = put(b, "k", u("final"))
    vs = all_versions(b)
    eq(short(vs)[0], ("V", "k", v, True), "first entry after a final PUT")
    eq([e["latest"] for e in vs].count(True), 1, "entries with IsLatest after the final PUT")
    eq(len(vs), 49, "entries after the final PUT")


finish()
