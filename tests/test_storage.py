"""Storage backends: local directory and S3 (moto server on loopback) behave the same."""

from __future__ import annotations

import os
import stat

import pytest
from moto.server import ThreadedMotoServer

from server.config import load_config
from server.media import storage as storage_module
from server.media.storage import InvalidKey, LocalStorage, S3Storage, create_storage, key_for

DATA = b"\x89PNG\r\n\x1a\n pretend picture"
BAD_KEYS = [
    "../outside.jpg", "ab/../../outside.jpg", "/etc/passwd.txt", "..", "ab/cd/", "", "a\\..\\b.jpg",
    "ab/.hidden.jpg", "ab//cd.jpg", "ab/cd.jpg\0.png", "noextension", "x" * 300 + ".jpg",
]


def make_config(tmp_path, **media):
    overrides = {"media": {"dir": str(tmp_path / "media"), **media}, "auth": {"secret": "s" * 40}}
    return load_config(overrides=overrides, environ={})


def test_keys_are_content_addressed():
    key = key_for(DATA, ".JPG")
    assert key == key_for(DATA, "jpg")
    digest = key.rsplit("/", 1)[1].removesuffix(".jpg")
    assert len(digest) == 64 and key == f"{digest[:2]}/{digest[2:4]}/{digest}.jpg"
    assert key_for(DATA + b"!", "jpg") != key
    with pytest.raises(InvalidKey):
        key_for(DATA, "../jpg")


async def test_local_round_trip(tmp_path):
    cfg = make_config(tmp_path)
    storage = await create_storage(cfg)
    assert isinstance(storage, LocalStorage)
    key = key_for(DATA, "png")

    await storage.put(key, DATA, "image/png")
    await storage.put(key, DATA, "image/png")  # same bytes again: harmless

    assert await storage.get(key) == DATA
    path = tmp_path / "media" / key
    assert path.read_bytes() == DATA
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left
    assert storage.url(key) == f"http://127.0.0.1:8080/media/{key}"

    await storage.delete(key)
    await storage.delete(key)  # already gone: fine
    with pytest.raises(FileNotFoundError):
        await storage.get(key)
    await storage.close()


async def test_local_url_follows_public_url_and_url_path(tmp_path):
    cfg = make_config(tmp_path, url_path="/files/")
    cfg.http.public_url = "https://chatter.example/"
    storage = LocalStorage.from_config(cfg)
    assert storage.url("ab/cd/x.jpg") == "https://chatter.example/files/ab/cd/x.jpg"


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_local_refuses_path_traversal(tmp_path, key):
    storage = await create_storage(make_config(tmp_path))
    for call in (storage.put(key, DATA, "image/png"), storage.get(key), storage.delete(key)):
        with pytest.raises(InvalidKey):
            await call
    with pytest.raises(InvalidKey):
        storage.url(key)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["media"]
    assert not any((tmp_path / "media").iterdir())


async def test_local_refuses_a_symlink_out_of_the_media_dir(tmp_path):
    storage = await create_storage(make_config(tmp_path))
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "media" / "ab").symlink_to(outside)
    with pytest.raises(InvalidKey):
        await storage.put("ab/cd.jpg", DATA, "image/jpeg")
    assert not any(outside.iterdir())


async def test_local_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    storage = await create_storage(make_config(tmp_path))
    key = key_for(DATA, "png")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(storage_module.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        await storage.put(key, DATA, "image/png")
    assert [p for p in (tmp_path / "media").rglob("*") if p.is_file()] == []


# --- S3 -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def moto_url():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_config(tmp_path, moto_url, monkeypatch):
    # Keep a developer's ~/.aws profile out of the test.
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)

    def make(bucket: str, **s3):
        settings = {"endpoint_url": moto_url, "bucket": bucket, "region": "us-east-1",
                    "access_key": "testing", "secret_key": "testing", **s3}
        return make_config(tmp_path, backend="s3", s3=settings)

    return make


async def test_s3_round_trip_creates_the_bucket(s3_config, moto_url):
    storage = await create_storage(s3_config("chatter-media-test"))
    try:
        assert isinstance(storage, S3Storage)
        key = key_for(DATA, "png")
        await storage.put(key, DATA, "image/png")
        assert await storage.get(key) == DATA

        head = await storage._client.head_object(Bucket="chatter-media-test", Key=key)
        assert head["ContentType"] == "image/png"
        # Path-style, unsigned: the bucket's policy (or a CDN at s3.public_url) grants the reads.
        assert storage.url(key) == f"{moto_url}/chatter-media-test/{key}"

        await storage.delete(key)
        with pytest.raises(FileNotFoundError):
            await storage.get(key)
    finally:
        await storage.close()


async def test_s3_existing_bucket_and_other_regions(s3_config):
    # A second worker starting finds the bucket there; a non-us-east-1 region needs a LocationConstraint.
    for _ in range(2):
        storage = await create_storage(s3_config("chatter-media-eu", region="eu-west-1"))
        await storage.put(key_for(DATA, "png"), DATA, "image/png")
        await storage.close()


async def test_s3_public_url_wins(s3_config):
    storage = S3Storage.from_config(s3_config("b", public_url="https://cdn.example/media/"))
    assert storage.url("ab/cd/x.png") == "https://cdn.example/media/ab/cd/x.png"
    with pytest.raises(InvalidKey):
        storage.url("../x.png")


async def test_s3_refuses_bad_keys(s3_config):
    storage = await create_storage(s3_config("chatter-media-keys"))
    try:
        for key in BAD_KEYS:
            with pytest.raises(InvalidKey):
                await storage.put(key, DATA, "image/png")
    finally:
        await storage.close()
