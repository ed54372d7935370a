"""Media file storage behind one interface: local directory or S3-compatible bucket."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import tempfile
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from server.config import Config

# Dots are allowed only before the extension, so "..", absolute paths, backslashes and
# NULs can never appear; 255 is the width of media.storage_key.
_KEY = re.compile(r"(?:[A-Za-z0-9_-]+/)*[A-Za-z0-9_-]+\.[a-z0-9]{1,8}")
_EXT = re.compile(r"[a-z0-9]{1,8}")
MAX_KEY = 255


class InvalidKey(ValueError):
    """A storage key that is not a plain relative name."""


def check_key(key: str) -> str:
    if not isinstance(key, str) or len(key) > MAX_KEY or not _KEY.fullmatch(key):
        raise InvalidKey(f"invalid storage key {key!r}")
    return key


def key_for(data: bytes, ext: str) -> str:
    """Content-addressed key "ab/cd/<sha256>.<ext>": same bytes, same key."""
    ext = ext.lower().lstrip(".")
    if not _EXT.fullmatch(ext):
        raise InvalidKey(f"invalid extension {ext!r}")
    digest = hashlib.sha256(data).hexdigest()
    # Two levels of fan-out keep directories small on file systems that slow down with size.
    return f"{digest[:2]}/{digest[2:4]}/{digest}.{ext}"


class Storage(ABC):
    """Where uploaded files live; keys come from key_for()."""

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Prepare the backend (create_storage calls it)."""

    @abstractmethod
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    @abstractmethod
    async def get(self, key: str) -> bytes:
        """The stored bytes; FileNotFoundError when absent."""

    async def chunks(self, key: str, size: int = 1 << 16) -> AsyncIterator[bytes]:
        """The stored bytes in pieces of at most about `size` (an export streams files this way);
        FileNotFoundError when absent. Backends that can read a part at a time override it."""
        yield await self.get(key)

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove the file; absent is not an error."""

    @abstractmethod
    def url(self, key: str) -> str: ...

    @property
    @abstractmethod
    def url_prefix(self) -> str:
        """url(key) == url_prefix + key, so SQL can build URLs (CONCAT) without a Python pass."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class LocalStorage(Storage):
    """Files under media.dir, served by this server at http.public_url + media.url_path."""

    def __init__(self, root: str | os.PathLike, base_url: str):
        self.root = Path(root).resolve()
        self.base_url = base_url.rstrip("/")

    @classmethod
    def from_config(cls, config: Config) -> LocalStorage:
        return cls(config.media.dir, config.http.public_url.rstrip("/") + config.media.url_path.rstrip("/"))

    def path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        # The key pattern already rules out traversal; a symlink planted inside root must not either.
        if not path.is_relative_to(self.root):
            raise InvalidKey(f"invalid storage key {key!r}")
        return path

    async def start(self) -> None:
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._write, self.path(key), data)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        if path.exists():
            return  # same key, same bytes: already stored
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target and rename, so a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            # mkstemp makes 0600; a front proxy serving var/media runs as another user.
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self.path(key).read_bytes)

    async def chunks(self, key: str, size: int = 1 << 16) -> AsyncIterator[bytes]:
        fh = await asyncio.to_thread(open, self.path(key), "rb")
        try:
            while piece := await asyncio.to_thread(fh.read, size):
                yield piece
        finally:
            await asyncio.to_thread(fh.close)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path(key).unlink, missing_ok=True)

    def url(self, key: str) -> str:
        return f"{self.base_url}/{check_key(key)}"

    @property
    def url_prefix(self) -> str:
        return f"{self.base_url}/"


class S3Storage(Storage):
    """An S3-compatible bucket through aiobotocore; the bucket is created if missing."""

    def __init__(self, s3):
        """s3: the media.s3 config section."""
        self.s3 = s3
        self.bucket = s3.bucket
        self.region = s3.region
        self._stack = contextlib.AsyncExitStack()
        self._client = None

    @classmethod
    def from_config(cls, config: Config) -> S3Storage:
        return cls(config.media.s3)

    def _base_url(self) -> str:
        if self.s3.public_url:
            return self.s3.public_url.rstrip("/")
        if self.s3.endpoint_url:
            return f"{self.s3.endpoint_url.rstrip('/')}/{self.bucket}"
        return f"https://{self.bucket}.s3.{self.region}.amazonaws.com"

    async def start(self) -> None:
        # Custom endpoints (MinIO, moto, Ceph) rarely have per-bucket DNS names.
        style = "path" if self.s3.endpoint_url else "auto"
        self._client = await self._stack.enter_async_context(get_session().create_client(
            "s3",
            region_name=self.region,
            endpoint_url=self.s3.endpoint_url,
            aws_access_key_id=self.s3.access_key,
            aws_secret_access_key=self.s3.secret_key,
            config=AioConfig(s3={"addressing_style": style}),
        ))
        await self._ensure_bucket()

    async def _ensure_bucket(self) -> None:
        try:
            await self._client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
                raise
        kwargs = {"Bucket": self.bucket}
        # us-east-1 is the one region that refuses an explicit LocationConstraint.
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            await self._client.create_bucket(**kwargs)
        except ClientError as exc:
            # Another worker starting at the same moment won the race.
            if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await self._client.put_object(
            Bucket=self.bucket, Key=check_key(key), Body=data, ContentType=content_type,
            # Content-addressed: a key's bytes never change.
            CacheControl="public, max-age=31536000, immutable",
        )

    async def _object(self, key: str) -> dict:
        """GetObject's response; FileNotFoundError for a missing key."""
        try:
            return await self._client.get_object(Bucket=self.bucket, Key=check_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise FileNotFoundError(key) from None
            raise

    async def get(self, key: str) -> bytes:
        async with (await self._object(key))["Body"] as body:
            return await body.read()

    async def chunks(self, key: str, size: int = 1 << 16) -> AsyncIterator[bytes]:
        async with (await self._object(key))["Body"] as body:
            while piece := await body.read(size):
                yield piece

    async def delete(self, key: str) -> None:
        await self._client.delete_object(Bucket=self.bucket, Key=check_key(key))

    def url(self, key: str) -> str:
        return f"{self._base_url()}/{check_key(key)}"

    @property
    def url_prefix(self) -> str:
        return f"{self._base_url()}/"

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None


async def create_storage(config: Config) -> Storage:
    """The configured backend, started; close() it at shutdown."""
    if config.media.backend == "s3":
        storage: Storage = S3Storage.from_config(config)
    else:
        storage = LocalStorage.from_config(config)
    try:
        await storage.start()
    except BaseException:
        await storage.close()
        raise
    return storage
