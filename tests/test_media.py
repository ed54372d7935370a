"""Media: upload, read one's own, and fetch the stored file from /media/ (local storage)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest
from PIL import ExifTags, Image

from server.app import create_app
from server.keys import DB
from tests.helpers import problem_of
from tests.test_intake import HTML, gif, jpeg_with_gps, mp4, png_rgba, webm


def form(data: bytes, filename: str = "photo.jpg", content_type: str = "image/jpeg") -> aiohttp.FormData:
    fd = aiohttp.FormData()
    fd.add_field("file", io.BytesIO(data), filename=filename, content_type=content_type)
    return fd


async def upload(client, user, data: bytes, status: int = 201, headers: dict | None = None, **kw):
    resp = await client.post("/api/v1/media", data=form(data, **kw), headers={**user.headers, **(headers or {})})
    assert resp.status == status, await resp.text()
    return resp


async def fetch(client, url: str):
    """GET a media URL (built on http.public_url) from the test server."""
    return await client.get(urlsplit(url).path)


def files_in(media_dir: Path) -> list[Path]:
    return [p for p in media_dir.rglob("*") if p.is_file()] if media_dir.exists() else []


def noise_png(side: int) -> bytes:
    """Random pixels do not compress: side * side * 3 bytes and then some."""
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buf, "PNG", compress_level=0)
    return buf.getvalue()


async def test_photo_is_stored_without_exif_or_gps_and_served_with_its_type(client, make_user, config):
    alice = await make_user()
    media = await (await upload(client, alice, jpeg_with_gps())).json()
    assert media["type"] == "image" and media["content_type"] == "image/jpeg"
    # The EXIF orientation was applied: 64x32 taken sideways is 32 wide and 64 high.
    assert (media["width"], media["height"], media["duration"]) == (32, 64, None)
    assert media["created_at"].endswith("Z")

    resp = await fetch(client, media["url"])
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "image/jpeg"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "immutable" in resp.headers["Cache-Control"]
    stored = await resp.read()
    assert len(stored) == media["size"]
    assert b"SnoopCam" not in stored and b"shot at home" not in stored
    img = Image.open(io.BytesIO(stored))
    assert len(img.getexif()) == 0 and not img.getexif().get_ifd(ExifTags.IFD.GPSInfo)

    thumb = await fetch(client, media["thumbnail_url"])
    assert thumb.status == 200 and thumb.headers["Content-Type"] == "image/webp"
    assert thumb.headers["X-Content-Type-Options"] == "nosniff"
    assert max(Image.open(io.BytesIO(await thumb.read())).size) <= config.media.thumb_size
    assert not [p for p in files_in(Path(config.media.dir)) if p.name.startswith(".tmp-")]


async def test_type_comes_from_the_bytes_not_the_name(client, make_user):
    alice = await make_user()
    media = await (await upload(client, alice, png_rgba(), filename="cat.gif", content_type="image/gif")).json()
    assert media["content_type"] == "image/png" and media["url"].endswith(".png")
    assert (await fetch(client, media["url"])).headers["Content-Type"] == "image/png"


async def test_animated_gif_is_a_gif(client, make_user):
    alice = await make_user()
    media = await (await upload(client, alice, gif(3), filename="a.gif", content_type="image/gif")).json()
    assert media["type"] == "gif" and media["content_type"] == "image/gif"
    resp = await fetch(client, media["url"])
    assert resp.headers["Content-Type"] == "image/gif"
    assert Image.open(io.BytesIO(await resp.read())).n_frames == 3


@pytest.mark.parametrize(("data", "content_type", "expected"), [
    (mp4(320, 240, 2500), "video/mp4", (320, 240, 2.5)),
    (webm(640, 360, 3500.0), "video/webm", (640, 360, 3.5)),
])
async def test_video_is_probed_and_served_as_sent(client, make_user, data, content_type, expected):
    alice = await make_user()
    media = await (await upload(client, alice, data, filename="clip", content_type="application/octet-stream")).json()
    assert media["type"] == "video" and media["content_type"] == content_type
    assert (media["width"], media["height"], media["duration"]) == expected
    assert media["thumbnail_url"] is None and media["size"] == len(data)
    resp = await fetch(client, media["url"])
    assert resp.headers["Content-Type"] == content_type
    assert await resp.read() == data


async def test_html_named_jpg_is_415_and_stores_nothing(client, make_user, config):
    alice = await make_user()
    resp = await upload(client, alice, HTML, status=415)
    await problem_of(resp, 415)
    assert files_in(Path(config.media.dir)) == []


async def test_oversize_upload_is_413_and_leaves_no_file(make_config, aiohttp_client):
    config = make_config(media={"max_image": 20_000})
    client = await aiohttp_client(create_app(config))
    resp = await client.post("/api/v1/auth/register", json={
        "username": "bigfoot", "email": "bigfoot@example.com", "password": "correct horse battery"})
    token = (await resp.json())["access_token"]
    resp = await client.post("/api/v1/media", data=form(noise_png(200), filename="big.png"),
                             headers={"Authorization": f"Bearer {token}"})
    await problem_of(resp, 413)
    assert files_in(Path(config.media.dir)) == []


async def test_uploads_are_not_held_to_the_json_body_limit(client, make_user, config):
    """5 MiB of image against http.max_body = 1 MiB: the upload limits apply, not client_max_size."""
    assert config.http.max_body < 5 << 20 < config.media.max_image
    alice = await make_user()
    data = noise_png(1340)
    assert len(data) > 5 << 20
    media = await (await upload(client, alice, data, filename="big.png", content_type="image/png")).json()
    assert (media["width"], media["height"]) == (1340, 1340)
    assert (await fetch(client, media["url"])).status == 200


async def test_own_media_only(client, make_user):
    alice, bob = await make_user(), await make_user()
    media = await (await upload(client, alice, jpeg_with_gps())).json()

    resp = await client.get(f"/api/v1/media/{media['id']}", headers=alice.headers)
    assert resp.status == 200 and await resp.json() == media
    await problem_of(await client.get(f"/api/v1/media/{media['id']}", headers=bob.headers), 404)
    await problem_of(await client.get(f"/api/v1/media/{media['id'] + 1000}", headers=alice.headers), 404)


async def test_anonymous_is_401(client, make_user):
    alice = await make_user()
    media = await (await upload(client, alice, png_rgba())).json()
    await problem_of(await client.post("/api/v1/media", data=form(png_rgba())), 401)
    await problem_of(await client.get(f"/api/v1/media/{media['id']}"), 401)
    # The file itself is public: its URL is what a post shows to anyone.
    assert (await fetch(client, media["url"])).status == 200


async def test_idempotency_key_replays_the_first_upload(client, make_user):
    alice = await make_user()
    key = {"Idempotency-Key": "upload-1"}
    photo = jpeg_with_gps()  # made once: its ICC profile carries the time it was made
    first = await upload(client, alice, photo, headers=key)
    again = await upload(client, alice, photo, headers=key)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert await again.json() == await first.json()
    count = await client.app[DB].fetchval("SELECT COUNT(*) FROM media WHERE user_id = %s", (alice.id,))
    assert count == 1

    other = await upload(client, alice, png_rgba(), headers=key, status=422)
    await problem_of(other, 422)
    # Another key is another upload, even of the same bytes (stored once on disk).
    third = await (await upload(client, alice, photo, headers={"Idempotency-Key": "upload-2"})).json()
    assert third["id"] != (await first.json())["id"] and third["url"] == (await first.json())["url"]


@pytest.mark.parametrize("path", [
    "/media/nope.jpg", "/media/ab/cd/0000.jpg", "/media/ab/cd/x.html", "/media/.tmp-abc",
    "/media/%2e%2e/%2e%2e/etc/passwd", "/media/a..b.jpg",
])
async def test_bad_or_missing_file_is_404(client, path):
    await problem_of(await client.get(path), 404)


async def test_only_stored_kinds_are_served(client, make_user, config):
    """A stray file under media.dir with another extension is never served."""
    alice = await make_user()
    await upload(client, alice, png_rgba())
    stray = Path(config.media.dir) / "ab" / "page.html"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(HTML)
    await problem_of(await client.get("/media/ab/page.html"), 404)


async def test_media_routes_are_in_the_openapi_document(client):
    spec = await (await client.get("/api/openapi.json")).json()
    assert "multipart/form-data" in spec["paths"]["/api/v1/media"]["post"]["requestBody"]["content"]
    assert "get" in spec["paths"]["/api/v1/media/{id}"]
    assert "get" in spec["paths"]["/media/{key}"]
