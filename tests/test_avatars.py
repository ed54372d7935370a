"""Avatars: a profile picture is uploaded, replaced and removed; old files go unless shared."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from server.keys import DB
from tests.helpers import problem_of
from tests.test_intake import HTML, jpeg_with_gps, mp4, png_rgba
from tests.test_media import fetch, files_in, form, upload

AVATAR = "/api/v1/users/me/avatar"


async def put_avatar(client, user, data: bytes, status: int = 200, **kw):
    resp = await client.put(AVATAR, data=form(data, **kw), headers=user.headers)
    assert resp.status == status, await resp.text()
    return resp


async def avatar_rows(client, user) -> list[dict]:
    return await client.app[DB].fetchall(
        "SELECT id, storage_key FROM media WHERE user_id = %s AND purpose = 'avatar'", (user.id,))


async def test_avatar_upload_shows_on_the_profile(client, make_user):
    alice = await make_user()
    me = await (await put_avatar(client, alice, jpeg_with_gps())).json()
    assert me["id"] == alice.id and me["email"] == alice.email
    assert me["profile_pic"].endswith(".jpg")

    resp = await fetch(client, me["profile_pic"])
    assert resp.status == 200 and resp.headers["Content-Type"] == "image/jpeg"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    stored = await resp.read()
    assert b"SnoopCam" not in stored and len(Image.open(io.BytesIO(stored)).getexif()) == 0

    public = await (await client.get(f"/api/v1/users/{alice.id}")).json()
    assert public["profile_pic"] == me["profile_pic"] and "email" not in public
    own = await (await client.get("/api/v1/users/me", headers=alice.headers)).json()
    assert own["profile_pic"] == me["profile_pic"]


async def test_replacing_the_avatar_drops_the_old_one(client, make_user):
    alice = await make_user()
    first = await (await put_avatar(client, alice, jpeg_with_gps())).json()
    [old_row] = await avatar_rows(client, alice)

    second = await (await put_avatar(client, alice, png_rgba(), filename="me.png", content_type="image/png")).json()
    assert second["profile_pic"] != first["profile_pic"] and second["profile_pic"].endswith(".png")
    rows = await avatar_rows(client, alice)
    assert len(rows) == 1 and rows[0]["id"] != old_row["id"]
    # The avatar is the viewer's media, but the replaced row is gone.
    await problem_of(await client.get(f"/api/v1/media/{old_row['id']}", headers=alice.headers), 404)
    assert (await client.get(f"/api/v1/media/{rows[0]['id']}", headers=alice.headers)).status == 200

    assert (await fetch(client, second["profile_pic"])).status == 200
    await problem_of(await fetch(client, first["profile_pic"]), 404)  # nobody else used that file


async def test_a_file_someone_else_uses_is_kept(client, make_user):
    """Storage is content-addressed: the same picture is one file behind several rows."""
    alice, bob = await make_user(), await make_user()
    photo = jpeg_with_gps()
    shared = await (await put_avatar(client, alice, photo)).json()
    posted = await (await upload(client, bob, photo)).json()
    assert posted["url"] == shared["profile_pic"]

    await put_avatar(client, alice, png_rgba())
    assert (await fetch(client, posted["url"])).status == 200
    assert (await fetch(client, posted["thumbnail_url"])).status == 200


async def test_same_picture_again_keeps_its_file(client, make_user):
    alice = await make_user()
    photo = jpeg_with_gps()
    first = await (await put_avatar(client, alice, photo)).json()
    again = await (await put_avatar(client, alice, photo)).json()
    assert again["profile_pic"] == first["profile_pic"]
    assert (await fetch(client, again["profile_pic"])).status == 200
    assert len(await avatar_rows(client, alice)) == 1


async def test_removing_the_avatar(client, make_user, config):
    alice = await make_user()
    me = await (await put_avatar(client, alice, jpeg_with_gps())).json()

    resp = await client.delete(AVATAR, headers=alice.headers)
    assert resp.status == 200
    body = await resp.json()
    assert body["profile_pic"] is None and body["email"] == alice.email
    assert await avatar_rows(client, alice) == []
    await problem_of(await fetch(client, me["profile_pic"]), 404)
    assert files_in(Path(config.media.dir)) == []  # thumbnail gone too
    public = await (await client.get(f"/api/v1/users/{alice.id}")).json()
    assert public["profile_pic"] is None

    # Removing what is not there is still the same answer.
    resp = await client.delete(AVATAR, headers=alice.headers)
    assert resp.status == 200 and (await resp.json())["profile_pic"] is None


async def test_avatar_must_be_an_image(client, make_user):
    alice = await make_user()
    await put_avatar(client, alice, jpeg_with_gps())
    before = await (await client.get("/api/v1/users/me", headers=alice.headers)).json()

    await problem_of(await put_avatar(client, alice, mp4(), status=415, filename="me.mp4",
                                      content_type="video/mp4"), 415)
    await problem_of(await put_avatar(client, alice, HTML, status=415, filename="me.jpg"), 415)
    await problem_of(await put_avatar(client, alice, b"\xff\xd8\xff\xe0" + b"x" * 200, status=422), 422)

    after = await (await client.get("/api/v1/users/me", headers=alice.headers)).json()
    assert after["profile_pic"] == before["profile_pic"]
    assert len(await avatar_rows(client, alice)) == 1


async def test_avatar_needs_a_token(client):
    await problem_of(await client.put(AVATAR, data=form(png_rgba())), 401)
    await problem_of(await client.delete(AVATAR), 401)
