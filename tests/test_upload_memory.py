"""Memory after large uploads (issue 12.5): a real server process, maximal images, RSS measured.

RSS is summed over the server's whole process tree, read from /proc. Uploads go two at a time
(media.image_jobs) to a server with four executor threads. The suite sends 6 maximal uploads to
stay well under a minute on a shared 2-core machine; CHATTER_TEST_RSS_UPLOADS=20 gives the issue's
figure (printed with -s).
"""

from __future__ import annotations

import asyncio
import io
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest
import yaml
from PIL import Image, ImageCms

from server.errors import ValidationFailed
from server.media import memory
from tests.test_multiworker import ROOT, Server, _env

needs_proc = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")

MEDIA = yaml.safe_load((ROOT / "config.yaml").read_text())["media"]
SIZE = (8000, 5000)  # exactly media.max_pixels (checked below)
UPLOADS = int(os.environ.get("CHATTER_TEST_RSS_UPLOADS", "6"))
ALLOWED_GROWTH = 50 << 20
AT_ONCE = MEDIA["image_jobs"]


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue  # exited meanwhile
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def tree_rss(pid: int) -> tuple[int, int]:
    """(bytes of VmRSS summed over pid and all its descendants, number of processes)."""
    tree, todo, total, count = _children(), [pid], 0, 0
    while todo:
        current = todo.pop()
        todo.extend(tree.get(current, ()))
        try:
            with open(f"/proc/{current}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        count += 1
        except OSError:
            continue
    return total, count


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of pid (not its children)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Sampler(threading.Thread):
    """Peak of tree_rss while uploads run."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            self.peak = max(self.peak, tree_rss(self.pid)[0])


def _photo_pixels(sigma: float) -> Image.Image:
    """Gradients with sensor-like noise: compresses about as badly as a real photo."""
    base = Image.linear_gradient("L").resize(SIZE)
    flipped = base.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    channels = [Image.blend(base if i != 1 else flipped, Image.effect_noise(SIZE, sigma * (1 + 0.2 * i)), 0.5)
                for i in range(3)]
    return Image.merge("RGB", channels)


def maximal_jpeg() -> bytes:
    """A camera JPEG: maximal pixels, EXIF orientation 6 and an ICC profile (the heaviest path)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x0110] = "MemoryCam"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buf = io.BytesIO()
    _photo_pixels(13).save(buf, "JPEG", quality=90, exif=exif, icc_profile=icc)
    return buf.getvalue()


def maximal_png() -> bytes:
    img = _photo_pixels(4.3).point(lambda v: v & 0xE0)  # coarse noise keeps it under the byte limit
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


@pytest.fixture(scope="module")
def images() -> list[tuple[str, bytes]]:
    out = [("image/jpeg", maximal_jpeg()), ("image/png", maximal_png())]
    for _, data in out:
        with Image.open(io.BytesIO(data)) as img:
            assert img.width * img.height == MEDIA["max_pixels"]
        # Near the byte limit, as a real maximal upload would be.
        assert MEDIA["max_image"] * 0.75 < len(data) <= MEDIA["max_image"], len(data)
    return out


@pytest.fixture
def server(services, tmp_path):
    env = _env(services, tmp_path, f"test:rss{os.getpid()}:")
    # Several executor threads, as on a bigger machine: each gets its own glibc arena.
    env["CHATTER_SERVER__BLOCKING_THREADS"] = "4"
    started = Server(env, tmp_path)
    try:
        started.wait_ready()
        yield started
    finally:
        started.stop()


async def _upload(session, url: str, headers: dict, content_type: str, data: bytes) -> dict:
    form = aiohttp.FormData()
    # A stream: aiohttp warns about (and the suite errors on) bytes bodies over 1 MB.
    form.add_field("file", io.BytesIO(data), content_type=content_type, filename="big." + content_type[6:])
    async with session.post(url + "/api/v1/media", data=form, headers=headers,
                            timeout=aiohttp.ClientTimeout(total=60)) as resp:
        assert resp.status == 201, await resp.text()
        return await resp.json()


async def _settled(pid: int) -> int:
    """RSS once it has stopped falling (at most 10 s)."""
    last = tree_rss(pid)[0]
    for _ in range(20):
        await asyncio.sleep(0.5)
        now = tree_rss(pid)[0]
        if now >= last - (1 << 20):
            return now
        last = now
    return last


@pytest.mark.slow
@needs_proc
async def test_rss_returns_to_baseline_after_maximal_uploads(server, images):
    pid = server.proc.pid
    async with aiohttp.ClientSession() as session:
        name = f"rss{os.getpid()}"
        async with session.post(server.url + "/api/v1/auth/register",
                                json={"username": name, "email": f"{name}@example.com",
                                      "password": "correct horse battery"}) as resp:
            assert resp.status == 201, await resp.text()
            headers = {"Authorization": f"Bearer {(await resp.json())['access_token']}"}
        await asyncio.sleep(0.5)
        baseline, procs = tree_rss(pid)

        sampler = Sampler(pid)
        sampler.start()
        started, cpu_before = time.monotonic(), cpu_seconds(pid)
        try:
            for first in range(0, UPLOADS, AT_ONCE):
                batch = [images[i % len(images)] for i in range(first, min(first + AT_ONCE, UPLOADS))]
                stored = await asyncio.gather(*(_upload(session, server.url, headers, content_type, data)
                                                for content_type, data in batch))
                for (content_type, _), media in zip(batch, stored, strict=True):
                    # Stored upright: the JPEG's orientation 6 is a quarter turn.
                    expected = SIZE[::-1] if content_type == "image/jpeg" else SIZE
                    assert (media["width"], media["height"]) == expected
        finally:
            sampler.done.set()
            sampler.join()
        elapsed, cpu = time.monotonic() - started, cpu_seconds(pid) - cpu_before
        after = await _settled(pid)
        after_procs = tree_rss(pid)[1]

    mb = 1 << 20
    report = (f"{UPLOADS} maximal uploads, {AT_ONCE} at a time, in {elapsed:.1f} s ({cpu:.1f} s server CPU): "
              f"RSS baseline {baseline / mb:.0f} MB ({procs} processes), peak {sampler.peak / mb:.0f} MB, "
              f"after {after / mb:.0f} MB ({after_procs} processes)")
    print(report)
    assert after - baseline <= ALLOWED_GROWTH, report


async def test_image_work_runs_at_most_image_jobs_at_once(monkeypatch):
    trims = []
    monkeypatch.setattr(memory, "trim_heap", lambda: trims.append(1))
    lock, running, most = threading.Lock(), [0], [0]

    def work(i: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        if i == 5:
            raise ValidationFailed({"file": ["bad"]})
        return i

    with ThreadPoolExecutor(6) as pool:
        got = await asyncio.gather(*(memory.run_image_work(SimpleNamespace(image_jobs=2), pool, work, i)
                                     for i in range(8)), return_exceptions=True)
    assert got[:5] + got[6:] == [0, 1, 2, 3, 4, 6, 7] and isinstance(got[5], ValidationFailed)
    assert most[0] == 2  # six threads free, two pictures at a time
    assert len(trims) == 8  # the heap is trimmed after every picture, failed ones too


def test_malloc_tuning_is_applied_where_glibc_is():
    memory.trim_heap()
    assert memory._mmap_large_blocks() is hasattr(memory._LIBC, "mallopt")
