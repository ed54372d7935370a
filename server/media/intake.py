"""Media intake: stream a multipart upload, judge its type from the bytes, clean it and store it."""

from __future__ import annotations

import asyncio
import io
import math
from collections.abc import Collection, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from itertools import islice
from typing import Any

from aiohttp import BodyPartReader, web
from hachoir.core import config as hachoir_config
from hachoir.core import log as hachoir_log
from hachoir.parser.container import MkvFile, MP4File
from hachoir.stream import StringInputStream
from PIL import Image, ImageCms, ImageOps, ImageSequence

from server.errors import ApiError, BadRequest, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from server.keys import CONFIG
from server.media.memory import run_image_work
from server.media.storage import Storage, key_for

# hachoir prints its parse warnings straight to stderr, which would break JSON log lines.
hachoir_config.quiet = True
hachoir_log.log.use_print = False

CHUNK = 64 * 1024
# Enough to see every signature below, including the WebM DocType inside the EBML header.
SNIFF_BYTES = 64
EXTENSIONS = {
    "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif",
    "video/mp4": "mp4", "video/webm": "webm",
}
# Pillow format name -> content type; nothing else is ever decoded.
IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
# ftyp major brands of MP4 proper; HEIC/AVIF images and QuickTime share the box but not the brand.
MP4_BRANDS = {
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"mp4v", b"avc1",
    b"dash", b"M4V ", b"M4VH", b"M4VP", b"MSNV",
}
MAX_FRAMES = 1000
# Boxes/elements looked at per level when probing a video: real files need a handful, and a
# crafted one made of millions of empty boxes would otherwise keep pure-Python hachoir busy.
HEADER_FIELDS = 256
THUMB_TYPE = ("image/webp", "webp")  # WebP keeps transparency, which a JPEG thumbnail would turn black
UNSUPPORTED = "Send a JPEG, PNG, WebP or GIF image, or an MP4 or WebM video."


@dataclass(frozen=True)
class Upload:
    """An uploaded file whose type was judged from its first bytes."""

    data: bytes
    content_type: str
    kind: str  # "image" | "video"
    filename: str | None = None  # as the client named it; informative only

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class ProcessedImage:
    data: bytes
    content_type: str
    media_type: str  # "image" | "gif" (animated)
    width: int
    height: int
    thumb: bytes
    thumb_content_type: str = THUMB_TYPE[0]


def sniff(head: bytes) -> tuple[str, str] | None:
    """(kind, content_type) from magic numbers, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image", "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image", "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image", "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in MP4_BRANDS:
        return "video", "video/mp4"
    # Matroska shares the EBML magic; only its WebM profile is accepted (probe_video reads
    # the DocType properly).
    if head.startswith(b"\x1a\x45\xdf\xa3") and b"webm" in head[:SNIFF_BYTES]:
        return "video", "video/webm"
    return None


def upload_limits(config) -> dict[str, int]:
    return {"image": config.media.max_image, "video": config.media.max_video}


async def read_upload(
    request: web.Request,
    field: str = "file",
    max_bytes: Mapping[str, int] | None = None,
    kinds: Collection[str] = ("image", "video"),
) -> Upload:
    """Stream multipart field `field`, refusing it (413) as soon as it outgrows its type's limit.

    max_bytes maps kind ("image", "video") to a byte limit; by default media.max_image/max_video.
    kinds narrows what is accepted (an avatar passes ("image",)); anything else is a 415.
    """
    if request.content_type != "multipart/form-data":
        raise UnsupportedMediaType("Send the file as multipart/form-data.")
    limits = max_bytes if max_bytes is not None else upload_limits(request.app[CONFIG])
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            # Other fields are drained by the next next() call, never kept.
            if isinstance(part, BodyPartReader) and part.name == field:
                return await _read_part(part, field, limits, kinds)
    except ValueError:
        raise BadRequest("Malformed multipart body.") from None
    raise ValidationFailed({field: ["Missing file."]})


async def _read_part(part: BodyPartReader, field: str, limits: Mapping[str, int],
                     kinds: Collection[str]) -> Upload:
    buf = bytearray()
    judged: tuple[str, str] | None = None
    limit = 0
    while chunk := await part.read_chunk(CHUNK):
        if judged and len(buf) + len(chunk) > limit:
            raise PayloadTooLarge(f"The {judged[0]} is larger than {limit} bytes.")
        buf += chunk
        if not judged and len(buf) >= SNIFF_BYTES:
            judged, limit = _judge(buf, limits, kinds)
    if not buf:
        raise ValidationFailed({field: ["The file is empty."]})
    if not judged:  # a file shorter than SNIFF_BYTES
        judged, limit = _judge(buf, limits, kinds)
    return Upload(bytes(buf), judged[1], judged[0], part.filename)


def _judge(head: bytes | bytearray, limits: Mapping[str, int],
           kinds: Collection[str]) -> tuple[tuple[str, str], int]:
    judged = sniff(bytes(head[:SNIFF_BYTES]))
    if judged is None or judged[0] not in kinds:
        raise UnsupportedMediaType(UNSUPPORTED)
    limit = limits[judged[0]]
    # The first chunk alone may already be over a small limit.
    if len(head) > limit:
        raise PayloadTooLarge(f"The {judged[0]} is larger than {limit} bytes.")
    return judged, limit


def process_image(data: bytes, max_pixels: int, thumb_size: int) -> ProcessedImage:
    """Decode, orient, strip all metadata, re-encode in the same format, make a thumbnail.

    Blocking: run it in an executor. 413 for too many pixels (frames of an animation count
    together), 415 for a format we do not take, 422 for bytes that do not decode.
    """
    try:
        with Image.open(io.BytesIO(data)) as img:
            # Cameras write JPEGs with extra pictures in them (MPO): keep the first, as a JPEG.
            fmt = "JPEG" if img.format == "MPO" else img.format or ""
            if fmt not in IMAGE_FORMATS:
                raise UnsupportedMediaType(UNSUPPORTED)
            # Checked on the header, before a single pixel is decoded.
            if img.width * img.height > max_pixels:
                raise PayloadTooLarge(f"The image has more than {max_pixels} pixels.")
            if fmt != "JPEG" and getattr(img, "is_animated", False):
                out, first = _encode_animation(img, fmt, max_pixels)
                media_type = "gif"
            else:
                first = _clean(img, fmt)
                out, media_type = _encode(first, fmt), "image"
            width, height = first.width, first.height
            # Last, as it may shrink `first` in place.
            thumb = _thumbnail(first, thumb_size)
            return ProcessedImage(out, IMAGE_FORMATS[fmt], media_type, width, height, thumb)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own guard, for headers claiming more than Image.MAX_IMAGE_PIXELS.
        raise PayloadTooLarge(f"The image has more than {max_pixels} pixels.") from None
    except (ApiError, MemoryError):
        raise
    except Exception:
        # Hostile or truncated input makes Pillow's decoders raise OSError, SyntaxError,
        # ValueError, EOFError, struct.error...: all mean the same to the client.
        raise ValidationFailed({"file": ["The image could not be decoded."]}) from None


def _clean(img: Image.Image, fmt: str) -> Image.Image:
    """The pixels, upright and in sRGB, with no metadata left in .info.

    img is closed: its pixels are freed as soon as their upright copy exists, not when
    process_image is done, which saves a full-size copy for the rest of the work (memory.py).
    """
    img.load()
    try:
        upright = ImageOps.exif_transpose(img)
    except Exception:
        upright = img.copy()  # a broken EXIF block is no reason to refuse the picture
    img.close()
    upright = _to_srgb(upright)
    if fmt == "JPEG" and upright.mode not in ("L", "RGB"):
        upright = upright.convert("RGB")  # CMYK/YCCK JPEGs render wrongly in browsers
    # Everything Pillow read (exif, icc_profile, xmp, comment, dpi...) goes; only what the
    # pixels need stays.
    upright.info = {k: v for k, v in upright.info.items() if k == "transparency"}
    return upright


_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _to_srgb(img: Image.Image) -> Image.Image:
    """Convert to sRGB so that the embedded profile can be dropped without shifting colours."""
    icc = img.info.get("icc_profile")
    if not icc or img.mode not in ("RGB", "RGBA", "CMYK"):
        return img
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        alpha = img.getchannel("A") if img.mode == "RGBA" else None
        rgb = img.convert("RGB") if alpha is not None else img
        out = ImageCms.profileToProfile(rgb, source, _SRGB, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError):
        return img  # an unusable profile: keep the pixels as they are
    if alpha is not None:
        out.putalpha(alpha)
    out.info = dict(img.info)
    return out


def _encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.save(buf, "JPEG", quality=85, optimize=True, progressive=True)
    elif fmt == "WEBP":
        img.save(buf, "WEBP", quality=85)
    else:
        img.save(buf, fmt)
    return buf.getvalue()


def _encode_animation(img: Image.Image, fmt: str, max_pixels: int) -> tuple[bytes, Image.Image]:
    """Re-encode every frame (Pillow hands them out composited, so each is complete)."""
    frames, durations = [], []
    budget = max_pixels
    for frame in ImageSequence.Iterator(img):
        # Counted while iterating: n_frames would walk a million-frame file before we could stop.
        budget -= img.width * img.height
        if budget < 0 or len(frames) >= MAX_FRAMES:
            raise PayloadTooLarge("The animation has too many frames.")
        durations.append(frame.info.get("duration") or 100)
        clean = frame.convert("RGBA")
        clean.info = {}
        frames.append(clean)
    options: dict[str, Any] = {"save_all": True, "append_images": frames[1:], "duration": durations}
    if img.info.get("loop") is not None:
        options["loop"] = img.info["loop"]
    if fmt == "GIF":
        options["disposal"] = 2  # frames are whole pictures: clear before drawing the next
    elif fmt == "WEBP":
        options["quality"] = 85
    buf = io.BytesIO()
    frames[0].save(buf, fmt, **options)
    return buf.getvalue(), frames[0]


def _thumbnail(img: Image.Image, size: int) -> bytes:
    """The WebP thumbnail; img is shrunk in place when it already has the thumbnail's mode."""
    has_alpha = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
    if img.mode.startswith("I"):  # 16-bit grey: scale to 8 bits, as converting would clip to white
        img = img.convert("I").point(lambda v: v * (1 / 256))
    mode = "RGBA" if has_alpha else "RGB"
    # convert() to the same mode would copy the whole picture only for thumbnail() to shrink it.
    thumb = img if img.mode == mode else img.convert(mode)
    thumb.thumbnail((size, size), Image.Resampling.LANCZOS)
    thumb.info = {}
    buf = io.BytesIO()
    thumb.save(buf, "WEBP", quality=80)
    return buf.getvalue()


def probe_video(data: bytes) -> tuple[int, int, float | None, str]:
    """(width, height, duration in seconds or None, content_type) read from the container.

    Blocking: run it in an executor. Only the headers are parsed, never trusting the client.
    """
    judged = sniff(data[:SNIFF_BYTES])
    if judged is None or judged[0] != "video":
        raise UnsupportedMediaType(UNSUPPORTED)
    content_type = judged[1]
    try:
        stream = StringInputStream(data, source="upload")
        if content_type == "video/mp4":
            width, height, duration = _probe_mp4(MP4File(stream, validate=True))
        else:
            width, height, duration = _probe_webm(MkvFile(stream, validate=True))
    except (ApiError, MemoryError):
        raise
    except Exception:
        # hachoir raises its own errors, and plain ones, on truncated or crafted input.
        raise ValidationFailed({"file": ["The video could not be read."]}) from None
    if not (width and height):
        raise ValidationFailed({"file": ["The file has no video track."]})
    if duration is not None and not (math.isfinite(duration) and duration > 0):
        duration = None  # fragmented MP4 and live-recorded WebM carry no total duration
    return width, height, duration, content_type


def _probe_mp4(parser: MP4File) -> tuple[int | None, int | None, float | None]:
    width = height = duration = None
    for atom in islice(parser, HEADER_FIELDS):
        if "movie" not in atom:
            continue
        for child in islice(atom["movie"], HEADER_FIELDS):
            if "movie_hdr" in child:
                header = child["movie_hdr"]
                if header["time_scale"].value:
                    duration = header["duration"].value / header["time_scale"].value
            elif "track" in child and width is None:
                for item in islice(child["track"], HEADER_FIELDS):
                    if "track_hdr" not in item:
                        continue
                    track = item["track_hdr"]
                    w, h = int(track["frame_size_width"].value), int(track["frame_size_height"].value)
                    if w and h:  # audio tracks have no frame size
                        # A phone held upright stores landscape frames and a 90 degree matrix.
                        rotated = abs(track["geom_b"].value) == 1
                        width, height = (h, w) if rotated else (w, h)
        break  # one moov per file
    return width, height, duration


def _probe_webm(parser: MkvFile) -> tuple[int | None, int | None, float | None]:
    if parser.mime_type != "video/webm":
        raise UnsupportedMediaType(UNSUPPORTED)
    width = height = duration = None
    for element in islice(parser["Segment[0]"], HEADER_FIELDS):
        if element.name.startswith("Info["):
            scale = element["TimecodeScale/unsigned"].value if "TimecodeScale/unsigned" in element else 1e6
            for key in ("Duration/float", "Duration/double"):
                if key in element:
                    duration = element[key].value * scale / 1e9
        elif element.name.startswith("Tracks["):
            for entry in islice(element.array("TrackEntry"), HEADER_FIELDS):
                if "Video/PixelWidth/unsigned" in entry and "Video/PixelHeight/unsigned" in entry:
                    width = entry["Video/PixelWidth/unsigned"].value
                    height = entry["Video/PixelHeight/unsigned"].value
                    break
        elif element.name.startswith("Cluster["):
            break  # media data: the headers are behind us
    return width, height, duration


def _image_job(data: bytes, max_pixels: int, thumb_size: int) -> tuple[ProcessedImage, str, str]:
    image = process_image(data, max_pixels, thumb_size)
    return image, key_for(image.data, EXTENSIONS[image.content_type]), key_for(image.thumb, THUMB_TYPE[1])


def _video_job(data: bytes) -> tuple[tuple[int, int, float | None, str], str]:
    probe = probe_video(data)
    return probe, key_for(data, EXTENSIONS[probe[3]])


async def store_upload(app_or_config, storage: Storage, executor: Executor | None,
                       upload: Upload) -> dict[str, Any]:
    """Process `upload` in `executor` (hashing included) and write it; returns a media row's columns.

    Images are worked on through run_image_work (server/media/memory.py), which bounds and gives
    back their memory.
    """
    config = app_or_config[CONFIG] if isinstance(app_or_config, web.Application) else app_or_config
    loop = asyncio.get_running_loop()
    if upload.kind == "image":
        image, key, thumb_key = await run_image_work(
            config.media, executor, _image_job, upload.data, config.media.max_pixels, config.media.thumb_size)
        await asyncio.gather(
            storage.put(key, image.data, image.content_type),
            storage.put(thumb_key, image.thumb, image.thumb_content_type),
        )
        return {
            "media_type": image.media_type, "storage_key": key, "thumb_key": thumb_key,
            "content_type": image.content_type, "width": image.width, "height": image.height,
            "duration": None, "size": len(image.data),
        }
    (width, height, duration, content_type), key = await loop.run_in_executor(
        executor, _video_job, upload.data)
    await storage.put(key, upload.data, content_type)
    return {
        "media_type": "video", "storage_key": key, "thumb_key": None, "content_type": content_type,
        "width": width, "height": height, "duration": duration, "size": len(upload.data),
    }
