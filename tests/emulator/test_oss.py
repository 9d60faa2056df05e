"""The emulator's OSS, driven over real HTTP on 127.0.0.1 by the official SDKs
(alibabacloud-oss-v2 with V4 signatures, oss2 with V1)."""

from __future__ import annotations

import hashlib

import alibabacloud_oss_v2 as oss
import oss2
import pytest

from agentrun_tasks.core.build import crc64
from agentrun_tasks.emulator.oss import make_oss_app, read_object
from agentrun_tasks.testing.aio import serving

AK, SK = "LTAIemulatorkey01", "emulator-secret-0123456789"
BUCKET = "agentrun-state"


def client(url: str, ak: str = AK, sk: str = SK) -> oss.Client:
    cfg = oss.config.load_default()
    cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(ak, sk)
    cfg.region = "cn-hangzhou"
    cfg.endpoint = url
    cfg.retryer = oss.retry.NopRetryer()
    return oss.Client(cfg)


def service_error(exc_info) -> oss.exceptions.ServiceError:
    return exc_info.value.unwrap()


@pytest.fixture
def url(tmp_path):
    with serving(make_oss_app(tmp_path, {AK: SK}.get)) as base:
        c = client(base)
        c.put_bucket(oss.PutBucketRequest(bucket=BUCKET))
        yield base


def test_put_get_head_delete_round_trip(url, tmp_path):
    c = client(url)
    key = "code/agent v1+ü.zip"
    put = c.put_object(oss.PutObjectRequest(bucket=BUCKET, key=key, body=b"zip-bytes"))
    assert put.etag == f'"{hashlib.md5(b"zip-bytes").hexdigest().upper()}"'
    assert put.hash_crc64 == str(crc64(b"zip-bytes"))
    got = c.get_object(oss.GetObjectRequest(bucket=BUCKET, key=key))  # the SDK checks the CRC-64 header
    assert got.body.content == b"zip-bytes"
    assert got.etag == put.etag
    assert got.hash_crc64 == put.hash_crc64
    head = c.head_object(oss.HeadObjectRequest(bucket=BUCKET, key=key))
    assert head.content_length == len(b"zip-bytes")
    assert head.etag == put.etag
    assert read_object(tmp_path, BUCKET, key) == b"zip-bytes"  # what the control plane reads for ossObjectName

    assert c.delete_object(oss.DeleteObjectRequest(bucket=BUCKET, key=key)).status_code == 204
    with pytest.raises(oss.exceptions.OperationError) as err:
        c.get_object(oss.GetObjectRequest(bucket=BUCKET, key=key))
    assert (service_error(err).status_code, service_error(err).code) == (404, "NoSuchKey")
    assert service_error(err).request_id  # the XML body carried RequestId
    with pytest.raises(oss.exceptions.OperationError) as err:
        c.head_object(oss.HeadObjectRequest(bucket=BUCKET, key=key))
    assert service_error(err).code == "NoSuchKey"  # from x-oss-err: a HEAD has no body


def test_forbid_overwrite_is_a_409_and_keeps_the_first_object(url):
    c = client(url)
    c.put_object(oss.PutObjectRequest(bucket=BUCKET, key="locks/prod.json", body=b"first", forbid_overwrite=True))
    with pytest.raises(oss.exceptions.OperationError) as err:
        c.put_object(oss.PutObjectRequest(bucket=BUCKET, key="locks/prod.json", body=b"second", forbid_overwrite=True))
    assert (service_error(err).status_code, service_error(err).code) == (409, "FileAlreadyExists")
    assert c.get_object(oss.GetObjectRequest(bucket=BUCKET, key="locks/prod.json")).body.content == b"first"
    c.put_object(oss.PutObjectRequest(bucket=BUCKET, key="locks/prod.json", body=b"plain put overwrites"))
    assert c.get_object(oss.GetObjectRequest(bucket=BUCKET, key="locks/prod.json")).body.content == b"plain put overwrites"


def test_list_objects_v2_prefix_and_pages(url):
    c = client(url)
    keys = [f"history/prod/2024010{i}T000000Z-x.json" for i in range(7)] + ["history/dev/a.json", "other"]
    for key in keys:
        c.put_object(oss.PutObjectRequest(bucket=BUCKET, key=key, body=b"{}"))
    first = c.list_objects_v2(oss.ListObjectsV2Request(bucket=BUCKET, prefix="history/prod/", max_keys=3))
    assert first.is_truncated
    assert first.key_count == 3
    assert first.next_continuation_token
    pages = list(c.list_objects_v2_paginator().iter_page(
        oss.ListObjectsV2Request(bucket=BUCKET, prefix="history/prod/", max_keys=3)))
    assert [len(p.contents) for p in pages] == [3, 3, 1]
    assert [o.key for p in pages for o in p.contents] == sorted(keys[:7])


def test_errors_for_unknown_key_bad_signature_and_missing_bucket(url):
    with pytest.raises(oss.exceptions.OperationError) as err:
        client(url, ak="LTAIunknown000000").get_object(oss.GetObjectRequest(bucket=BUCKET, key="x"))
    assert (service_error(err).status_code, service_error(err).code) == (403, "InvalidAccessKeyId")
    with pytest.raises(oss.exceptions.OperationError) as err:
        client(url, sk="not-the-secret").put_object(oss.PutObjectRequest(bucket=BUCKET, key="x", body=b"1"))
    assert (service_error(err).status_code, service_error(err).code) == (403, "SignatureDoesNotMatch")
    with pytest.raises(oss.exceptions.OperationError) as err:
        client(url).put_object(oss.PutObjectRequest(bucket="no-such-bucket", key="x", body=b"1"))
    assert (service_error(err).status_code, service_error(err).code) == (404, "NoSuchBucket")
    with pytest.raises(oss.exceptions.OperationError) as err:
        client(url).put_bucket(oss.PutBucketRequest(bucket=BUCKET))
    assert service_error(err).code == "BucketAlreadyExists"


def test_oss2_v1_signatures_are_verified_too(url):
    bucket = oss2.Bucket(oss2.Auth(AK, SK), url, BUCKET)
    bucket.put_object("v1/a b.txt", b"data")
    assert bucket.get_object("v1/a b.txt").read() == b"data"
    for i in range(3):
        bucket.put_object(f"v1/k{i}", b"x")
    assert [o.key for o in oss2.ObjectIteratorV2(bucket, prefix="v1/k", max_keys=2)] == ["v1/k0", "v1/k1", "v1/k2"]
    with pytest.raises(oss2.exceptions.OssError) as err:
        bucket.put_object("v1/a b.txt", b"again", headers={"x-oss-forbid-overwrite": "true"})
    assert (err.value.status, err.value.code) == (409, "FileAlreadyExists")
    with pytest.raises(oss2.exceptions.OssError) as err:
        oss2.Bucket(oss2.Auth(AK, "wrong"), url, BUCKET).get_object("v1/a b.txt")
    assert (err.value.status, err.value.code) == (403, "SignatureDoesNotMatch")


def test_objects_survive_a_restart_on_the_same_data_dir(tmp_path):
    with serving(make_oss_app(tmp_path, {AK: SK}.get)) as base:
        c = client(base)
        c.put_bucket(oss.PutBucketRequest(bucket=BUCKET))
        c.put_object(oss.PutObjectRequest(bucket=BUCKET, key="history/prod/1.json", body=b"kept"))
    with serving(make_oss_app(tmp_path, {AK: SK}.get)) as base:
        c = client(base)
        assert c.get_object(oss.GetObjectRequest(bucket=BUCKET, key="history/prod/1.json")).body.content == b"kept"
        listed = c.list_objects_v2(oss.ListObjectsV2Request(bucket=BUCKET, prefix="history/"))
        assert [o.key for o in listed.contents] == ["history/prod/1.json"]
    assert not [p for p in (tmp_path / BUCKET).iterdir() if p.name.startswith(".tmp-")]  # no half-written files


def test_a_v1_signature_with_a_date_outside_15_minutes_is_refused_as_oss_does(url, monkeypatch):
    bucket = oss2.Bucket(oss2.Auth(AK, SK), url, BUCKET)
    bucket.put_object("v1/dated", b"data")
    # A request captured in 2001, correctly signed: replaying it must not work.
    monkeypatch.setattr(oss2.auth.utils, "http_date", lambda timeval=None: "Mon, 01 Jan 2001 00:00:00 GMT")
    with pytest.raises(oss2.exceptions.OssError) as err:
        bucket.get_object("v1/dated")
    assert (err.value.status, err.value.code) == (403, "RequestTimeTooSkewed")
