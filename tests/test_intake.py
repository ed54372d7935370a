"""Media intake: type judged from bytes, size limits while streaming, metadata stripped, videos probed."""

from __future__ import annotations

import hashlib
import io
import pickle
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import pytest
from aiohttp import web
from PIL import ExifTags, Image, ImageCms
from PIL.PngImagePlugin import PngInfo

from server.config import load_config
from server.errors import ApiError, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from server.keys import CONFIG
from server.media import intake
from server.media.intake import Upload, probe_video, process_image, read_upload, sniff, store_upload
from server.media.storage import LocalStorage

MEDIA_COLUMNS = {"media_type", "storage_key", "thumb_key", "content_type", "width", "height", "duration", "size"}
RED, BLUE = (255, 0, 0), (0, 0, 255)


# --- samples, made here rather than checked in -------------------------------------------------

def jpeg_with_gps(size=(64, 32)) -> bytes:
    """Left half red, right half blue, EXIF says "rotate 90 degrees clockwise", GPS included."""
    img = Image.new("RGB", size, BLUE)
    img.paste(RED, (0, 0, size[0] // 2, size[1]))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "SnoopCam"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 29.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (2.0, 17.0, 40.0)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif, icc_profile=icc, comment=b"shot at home", quality=95)
    return buf.getvalue()


def png_rgba() -> bytes:
    img = Image.new("RGBA", (40, 30), (0, 128, 0, 0))
    img.paste((0, 128, 0, 255), (0, 0, 20, 30))
    info = PngInfo()
    info.add_text("Author", "Jane Secret")
    buf = io.BytesIO()
    img.save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def gif(frames: int) -> bytes:
    colors = [RED, BLUE, (0, 255, 0)]
    images = [Image.new("RGB", (20, 10), colors[i % 3]) for i in range(frames)]
    buf = io.BytesIO()
    images[0].save(buf, "GIF", save_all=True, append_images=images[1:], duration=50, loop=0,
                   comment=b"made by a secret tool")
    return buf.getvalue()


def webp(frames: int = 1) -> bytes:
    images = [Image.new("RGB", (24, 12), c) for c in [RED, BLUE, RED][:frames]]
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SnoopCam"
    buf = io.BytesIO()
    if frames == 1:
        images[0].save(buf, "WEBP", exif=exif)
    else:
        images[0].save(buf, "WEBP", save_all=True, append_images=images[1:], duration=80, loop=0)
    return buf.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height; the pixel data is a few bytes."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def box(tag: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + tag + payload


def mp4(width=320, height=240, duration_ms=2500, rotate=False, mdat=16) -> bytes:
    """ftyp + moov(mvhd, trak(tkhd, mdia(mdhd, hdlr))) + mdat: the headers a player reads first."""
    one, zero = 0x00010000, 0
    matrix = [zero, one, 0, -one, zero, 0, 0, 0, 0x40000000] if rotate else [one, 0, 0, 0, one, 0, 0, 0, 0x40000000]
    matrix_bytes = struct.pack(">9i", *matrix)
    mvhd = box(b"mvhd", b"\0\0\0\0" + struct.pack(">IIII", 0, 0, 1000, duration_ms)
               + struct.pack(">IH", one, 0x0100) + b"\0" * 10 + matrix_bytes + b"\0" * 24 + struct.pack(">I", 2))
    tkhd = box(b"tkhd", b"\0\0\0\x03" + struct.pack(">IIII", 0, 0, 1, 0) + struct.pack(">I", duration_ms)
               + b"\0" * 8 + struct.pack(">hhH", 0, 0, 0) + b"\0\0" + matrix_bytes
               + struct.pack(">II", width << 16, height << 16))
    mdhd = box(b"mdhd", b"\0\0\0\0" + struct.pack(">IIII", 0, 0, 90000, duration_ms * 90) + struct.pack(">HH", 0x55C4, 0))
    hdlr = box(b"hdlr", b"\0\0\0\0" + b"\0\0\0\0" + b"vide" + b"\0" * 12 + b"VideoHandler\0")
    trak = box(b"trak", tkhd + box(b"mdia", mdhd + hdlr))
    ftyp = box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2avc1mp41")
    return ftyp + box(b"moov", mvhd + trak) + box(b"mdat", b"\0" * mdat)


def ebml(element_id: bytes, payload: bytes) -> bytes:
    size = len(payload)
    coded = bytes([0x80 | size]) if size < 0x7F else struct.pack(">H", 0x4000 | size)
    return element_id + coded + payload


def webm(width=640, height=360, duration_ms: float | None = 3500.0, doctype=b"webm", live=False) -> bytes:
    """EBML header + Segment(Info, Tracks(one VP8 track), Cluster).

    live: as a browser's MediaRecorder writes it, Segment and Cluster of unknown size, no Duration.
    """
    header = ebml(b"\x1a\x45\xdf\xa3", ebml(b"\x42\x86", b"\x01") + ebml(b"\x42\xf7", b"\x01")
                  + ebml(b"\x42\xf2", b"\x04") + ebml(b"\x42\xf3", b"\x08") + ebml(b"\x42\x82", doctype)
                  + ebml(b"\x42\x87", b"\x02") + ebml(b"\x42\x85", b"\x02"))
    duration = b"" if live else ebml(b"\x44\x89", struct.pack(">d", duration_ms))
    info = ebml(b"\x15\x49\xa9\x66", ebml(b"\x2a\xd7\xb1", (1_000_000).to_bytes(3, "big")) + duration
                + ebml(b"\x4d\x80", b"test") + ebml(b"\x57\x41", b"test"))
    video = ebml(b"\xe0", ebml(b"\xb0", width.to_bytes(2, "big")) + ebml(b"\xba", height.to_bytes(2, "big")))
    track = ebml(b"\xae", ebml(b"\xd7", b"\x01") + ebml(b"\x73\xc5", b"\x01") + ebml(b"\x83", b"\x01")
                 + ebml(b"\x86", b"V_VP8") + video)
    block = ebml(b"\xa3", b"\x81\x00\x00\x80" + b"\x00" * 32)
    if live:
        unknown = b"\x01" + b"\xff" * 7
        cluster = b"\x1f\x43\xb6\x75" + unknown + ebml(b"\xe7", b"\x00") + block
        return header + b"\x18\x53\x80\x67" + unknown + info + ebml(b"\x16\x54\xae\x6b", track) + cluster
    cluster = ebml(b"\x1f\x43\xb6\x75", ebml(b"\xe7", b"\x00") + block)
    return header + ebml(b"\x18\x53\x80\x67", info + ebml(b"\x16\x54\xae\x6b", track) + cluster)


HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


def decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def near(pixel, color, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], color, strict=True))


# --- judging the type from the bytes -----------------------------------------------------------

def test_type_is_judged_from_magic_numbers():
    assert sniff(jpeg_with_gps()[:64]) == ("image", "image/jpeg")
    assert sniff(png_rgba()[:64]) == ("image", "image/png")
    assert sniff(gif(1)[:64]) == ("image", "image/gif")
    assert sniff(webp()[:64]) == ("image", "image/webp")
    assert sniff(mp4()[:64]) == ("video", "video/mp4")
    assert sniff(webm()[:64]) == ("video", "video/webm")
    assert sniff(HTML) is None
    # An HEIC photo shares MP4's ftyp box, but is not a video we take.
    assert sniff(box(b"ftyp", b"heic\0\0\0\0mif1heic")) is None
    assert sniff(webm(doctype=b"matroska")[:64]) is None


# --- images ------------------------------------------------------------------------------------

def test_jpeg_is_turned_upright_and_loses_exif_gps_icc_and_comment():
    original = jpeg_with_gps()
    assert decode(original).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the sample does carry GPS

    out = process_image(original, max_pixels=10_000, thumb_size=16)

    img = decode(out.data)
    assert img.format == "JPEG" and out.content_type == "image/jpeg" and out.media_type == "image"
    assert (out.width, out.height) == img.size == (32, 64)  # orientation 6 applied
    assert near(img.getpixel((16, 5)), RED) and near(img.getpixel((16, 58)), BLUE)
    assert len(img.getexif()) == 0
    assert not {"exif", "icc_profile", "comment", "xmp"} & set(img.info)
    for secret in (b"Exif\0\0", b"SnoopCam", b"shot at home", b"GPS"):
        assert secret not in out.data
    thumb = decode(out.thumb)
    assert thumb.format == "WEBP" and out.thumb_content_type == "image/webp"
    assert max(thumb.size) == 16 and thumb.size == (8, 16)


def test_png_stays_png_keeps_transparency_and_loses_text():
    out = process_image(png_rgba(), max_pixels=10_000, thumb_size=320)
    img = decode(out.data)
    assert img.format == "PNG" and out.content_type == "image/png"
    assert (out.width, out.height) == (40, 30)
    assert img.mode == "RGBA" and img.getpixel((30, 10))[3] == 0 and img.getpixel((5, 10))[3] == 255
    assert "Author" not in img.info and b"Jane Secret" not in out.data
    assert decode(out.thumb).size == (40, 30)  # never enlarged


def test_webp_stays_webp_without_exif():
    out = process_image(webp(), max_pixels=10_000, thumb_size=320)
    img = decode(out.data)
    assert img.format == "WEBP" and out.content_type == "image/webp" and out.media_type == "image"
    assert "exif" not in img.info and b"SnoopCam" not in out.data


def test_animated_gif_keeps_its_frames_and_is_typed_gif():
    out = process_image(gif(3), max_pixels=10_000, thumb_size=320)
    img = Image.open(io.BytesIO(out.data))
    assert img.format == "GIF" and out.content_type == "image/gif" and out.media_type == "gif"
    assert img.n_frames == 3 and (out.width, out.height) == (20, 10)
    img.seek(1)
    assert near(img.convert("RGB").getpixel((5, 5)), BLUE)
    assert b"secret tool" not in out.data


def test_still_gif_is_an_image():
    out = process_image(gif(1), max_pixels=10_000, thumb_size=320)
    assert out.media_type == "image" and out.content_type == "image/gif"


def test_animated_webp_keeps_its_frames():
    out = process_image(webp(frames=3), max_pixels=10_000, thumb_size=320)
    img = Image.open(io.BytesIO(out.data))
    assert img.format == "WEBP" and out.media_type == "gif" and img.n_frames == 3


@pytest.mark.parametrize("side", [50_000, 10_000])
def test_decompression_bomb_is_refused(side):
    # 50000^2 trips Pillow's own error, 10000^2 its warning (an error under pytest); both are 413.
    with pytest.raises(PayloadTooLarge):
        process_image(png_header(side, side), max_pixels=40_000_000, thumb_size=320)


def test_image_over_max_pixels_is_refused_before_decoding():
    with pytest.raises(PayloadTooLarge):
        process_image(png_header(1000, 1000), max_pixels=999_999, thumb_size=320)


def test_animation_frames_count_together():
    with pytest.raises(PayloadTooLarge):
        process_image(gif(3), max_pixels=20 * 10 * 2, thumb_size=320)


@pytest.mark.parametrize("data", [
    b"\xff\xd8\xff\xe0" + b"garbage" * 20,
    png_rgba()[:60],
    png_header(30, 30),  # IDAT far too short for 30x30
])
def test_corrupt_image_is_422(data):
    with pytest.raises(ValidationFailed) as info:
        process_image(data, max_pixels=10_000, thumb_size=320)
    assert info.value.errors == {"file": ["The image could not be decoded."]}


def test_image_format_we_do_not_take_is_415():
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "BMP")
    with pytest.raises(UnsupportedMediaType):
        process_image(buf.getvalue(), max_pixels=10_000, thumb_size=320)


def test_errors_survive_a_process_pool():
    # store_upload may be given a ProcessPoolExecutor: errors then cross a pickle.
    exc = pickle.loads(pickle.dumps(ValidationFailed({"file": ["bad"]})))
    assert exc.status == 422 and exc.errors == {"file": ["bad"]}


# --- videos ------------------------------------------------------------------------------------

def test_mp4_dimensions_and_duration_come_from_the_file():
    assert probe_video(mp4(320, 240, 2500)) == (320, 240, 2.5, "video/mp4")


def test_mp4_shot_upright_reports_portrait_size():
    assert probe_video(mp4(1920, 1080, rotate=True))[:2] == (1080, 1920)


def test_webm_dimensions_and_duration_come_from_the_file():
    assert probe_video(webm(640, 360, 3500.0)) == (640, 360, 3.5, "video/webm")


def test_webm_recorded_in_a_browser_has_no_duration():
    assert probe_video(webm(640, 480, live=True)) == (640, 480, None, "video/webm")


def test_matroska_that_is_not_webm_is_415(monkeypatch):
    # Past a sniffer fooled by a stray "webm", the DocType itself is read.
    monkeypatch.setattr(intake, "sniff", lambda head: ("video", "video/webm"))
    with pytest.raises(UnsupportedMediaType):
        probe_video(webm(doctype=b"matroska"))


@pytest.mark.parametrize("data", [
    mp4()[:40],  # ftyp and the start of moov
    box(b"ftyp", b"isom\0\0\0\0isom") + b"\xff" * 100,
    webm()[:45],
])
def test_unreadable_video_is_422(data):
    with pytest.raises(ValidationFailed):
        probe_video(data)


def test_a_million_empty_boxes_do_not_keep_the_prober_busy():
    clip = mp4()
    ftyp = len(box(b"ftyp", b"isom" + b"\0" * 4 + b"isomiso2avc1mp41"))
    padded = clip[:ftyp] + box(b"free", b"") * 1_000_000 + clip[ftyp:]
    with pytest.raises(ValidationFailed):  # gives up long before the moov box
        probe_video(padded)
    assert probe_video(clip[:ftyp] + box(b"free", b"") * 10 + clip[ftyp:])[:2] == (320, 240)


def test_non_video_is_415():
    with pytest.raises(UnsupportedMediaType):
        probe_video(HTML)


# --- reading the upload ------------------------------------------------------------------------

@pytest.fixture
def cfg(tmp_path):
    return load_config(overrides={"media": {"dir": str(tmp_path / "media")}, "auth": {"secret": "s" * 40}},
                       environ={})


@pytest.fixture
def upload_client(aiohttp_client, cfg):
    """A one-route app whose handler calls read_upload; `seen` records how far the body was read."""
    seen: dict = {}

    async def make(**kwargs):
        async def handler(request: web.Request) -> web.Response:
            try:
                upload = await read_upload(request, **kwargs)
            except ApiError as exc:
                seen.update(read=request.content.total_bytes, eof=request.content.at_eof())
                return web.json_response(exc.body(), status=exc.status)
            return web.json_response({
                "kind": upload.kind, "content_type": upload.content_type, "size": upload.size,
                "filename": upload.filename, "sha256": hashlib.sha256(upload.data).hexdigest(),
            })

        app = web.Application()
        app[CONFIG] = cfg
        app.router.add_post("/upload", handler)
        client = await aiohttp_client(app)
        client.seen = seen
        return client

    return make


def form(data: bytes, filename="x.jpg", content_type="image/jpeg", field="file") -> aiohttp.FormData:
    fd = aiohttp.FormData()
    fd.add_field("caption", "holiday")
    fd.add_field(field, data, filename=filename, content_type=content_type)
    return fd


async def test_upload_is_read_and_typed_by_its_bytes_not_its_name(upload_client):
    client = await upload_client()
    data = png_rgba()
    resp = await client.post("/upload", data=form(data, filename="cat.gif", content_type="image/gif"))
    assert resp.status == 200
    body = await resp.json()
    assert body == {"kind": "image", "content_type": "image/png", "size": len(data), "filename": "cat.gif",
                    "sha256": hashlib.sha256(data).hexdigest()}


async def test_html_named_jpg_is_415(upload_client):
    client = await upload_client()
    resp = await client.post("/upload", data=form(HTML, filename="x.jpg", content_type="image/jpeg"))
    assert resp.status == 415
    assert (await resp.json())["type"] == "urn:chatter:problem:unsupported-media-type"


async def test_missing_file_field_is_422(upload_client):
    client = await upload_client()
    resp = await client.post("/upload", data=form(jpeg_with_gps(), field="picture"))
    assert resp.status == 422
    assert set((await resp.json())["errors"]) == {"file"}


async def test_empty_file_is_422(upload_client):
    client = await upload_client()
    resp = await client.post("/upload", data=form(b""))
    assert resp.status == 422


@pytest.mark.parametrize("content_type", ["multipart/form-data", "multipart/form-data; boundary=xyz"])
async def test_malformed_multipart_is_400(upload_client, content_type):
    client = await upload_client()
    resp = await client.post("/upload", data=b"not multipart at all", headers={"Content-Type": content_type})
    assert resp.status == 400


async def test_json_body_is_415(upload_client):
    client = await upload_client()
    resp = await client.post("/upload", json={"file": "x"})
    assert resp.status == 415


async def test_limits_come_from_the_config_by_default(upload_client, cfg):
    cfg.media.max_image = 1000
    client = await upload_client()
    resp = await client.post("/upload", data=form(jpeg_with_gps((200, 200))))
    assert resp.status == 413


async def test_video_gets_the_video_limit(upload_client):
    client = await upload_client(max_bytes={"image": 100_000, "video": 1_000_000})
    big_video = mp4(mdat=500_000)
    resp = await client.post("/upload", data=form(big_video, filename="clip.mp4", content_type="video/mp4"))
    assert resp.status == 200 and (await resp.json())["content_type"] == "video/mp4"
    big_image = b"\xff\xd8\xff\xe0" + b"\0" * 500_000
    resp = await client.post("/upload", data=form(big_image))
    assert resp.status == 413


async def test_a_first_chunk_already_over_the_limit_is_413(upload_client):
    client = await upload_client(max_bytes={"image": 10, "video": 10})
    resp = await client.post("/upload", data=form(jpeg_with_gps()))
    assert resp.status == 413


async def test_avatar_style_upload_refuses_video(upload_client):
    client = await upload_client(kinds=("image",))
    resp = await client.post("/upload", data=form(webm(), filename="a.webm", content_type="video/webm"))
    assert resp.status == 415


async def test_oversize_upload_is_refused_while_streaming(upload_client):
    """32 MiB offered against a 1 MiB limit: refused long before the body ends, nothing buffered."""
    client = await upload_client(max_bytes={"image": 1 << 20, "video": 1 << 20})

    async def body():
        chunk = b"\xff\xd8\xff\xe0" + b"\0" * (64 * 1024 - 4)
        for _ in range(512):
            yield chunk

    writer = aiohttp.MultipartWriter("form-data")
    part = writer.append(body(), {"Content-Type": "image/jpeg"})
    part.set_content_disposition("form-data", name="file", filename="huge.jpg")
    async with client.post("/upload", data=writer) as resp:
        assert resp.status == 413
    assert client.seen["eof"] is False
    assert client.seen["read"] < 4 << 20


# --- storing -----------------------------------------------------------------------------------

@pytest.fixture
async def storage(cfg):
    store = LocalStorage.from_config(cfg)
    await store.start()
    yield store
    await store.close()


@pytest.fixture
def executor():
    with ThreadPoolExecutor(2) as pool:
        yield pool


def image_upload(data: bytes, content_type: str = "image/jpeg") -> Upload:
    return Upload(data, content_type, "image", "x.jpg")


async def test_stored_photo_has_no_gps_and_a_thumbnail(cfg, storage, executor):
    row = await store_upload(cfg, storage, executor, image_upload(jpeg_with_gps()))
    assert set(row) == MEDIA_COLUMNS
    assert row["media_type"] == "image" and row["content_type"] == "image/jpeg"
    assert (row["width"], row["height"], row["duration"]) == (32, 64, None)
    assert row["storage_key"].endswith(".jpg") and row["thumb_key"].endswith(".webp")
    stored = await storage.get(row["storage_key"])
    assert row["size"] == len(stored)
    assert b"SnoopCam" not in stored and len(decode(stored).getexif()) == 0
    assert not decode(stored).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    thumb = decode(await storage.get(row["thumb_key"]))
    assert max(thumb.size) <= cfg.media.thumb_size
    assert storage.url(row["storage_key"]) == f"http://127.0.0.1:8080/media/{row['storage_key']}"


async def test_same_photo_twice_is_stored_once(cfg, storage, executor):
    first = await store_upload(cfg, storage, executor, image_upload(png_rgba(), "image/png"))
    second = await store_upload(cfg, storage, executor, image_upload(png_rgba(), "image/png"))
    assert first == second


async def test_animated_gif_is_stored_as_gif(cfg, storage, executor):
    row = await store_upload(cfg, storage, executor, image_upload(gif(3), "image/gif"))
    assert row["media_type"] == "gif" and row["content_type"] == "image/gif"
    assert Image.open(io.BytesIO(await storage.get(row["storage_key"]))).n_frames == 3


@pytest.mark.parametrize(("data", "content_type", "expected"), [
    (mp4(320, 240, 2500), "video/mp4", (320, 240, 2.5)),
    (webm(640, 360, 3500.0), "video/webm", (640, 360, 3.5)),
])
async def test_video_is_probed_and_stored_as_sent(cfg, storage, executor, data, content_type, expected):
    app = web.Application()
    app[CONFIG] = cfg
    row = await store_upload(app, storage, executor, Upload(data, content_type, "video", "clip"))
    assert row == {
        "media_type": "video", "storage_key": row["storage_key"], "thumb_key": None,
        "content_type": content_type, "width": expected[0], "height": expected[1],
        "duration": expected[2], "size": len(data),
    }
    assert row["storage_key"].endswith("." + content_type.split("/")[1])
    assert await storage.get(row["storage_key"]) == data


async def test_a_bad_file_stores_nothing(cfg, storage, executor):
    with pytest.raises(ValidationFailed):
        await store_upload(cfg, storage, executor, image_upload(b"\xff\xd8\xff\xe0" + b"x" * 200))
    assert not [p for p in storage.root.rglob("*") if p.is_file()]
