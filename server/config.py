"""Configuration: config.yaml defaults, CHATTER_* environment overrides, validation."""

from __future__ import annotations

import copy
import logging
import os
import secrets
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = ROOT / "config.yaml"
ENV_PREFIX = "CHATTER_"
# Keys that may only come from the environment and are never printed.
SECRET_KEYS = {("auth", "secret"), ("mail", "smtp", "password"), ("media", "s3", "secret_key")}


class ConfigError(Exception):
    """A bad configuration value; the message names the key."""


def _rate(value: str) -> str:
    try:
        count, seconds = value.split("/")
        if int(count) < 1 or int(seconds) < 1:
            raise ValueError
    except (ValueError, AttributeError):
        raise ValidationError('must look like "count/seconds", e.g. "5/900"') from None
    return value


def _url(schemes: tuple[str, ...]):
    def check(value: str) -> None:
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.hostname:
            raise ValidationError(f"must be a URL like {schemes[0]}://host:port/...")

    return check


class _Strict(Schema):
    class Meta:
        unknown = RAISE


Port = lambda: fields.Integer(required=True, validate=validate.Range(1, 65535))  # noqa: E731
Positive = lambda: fields.Integer(required=True, validate=validate.Range(min=1))  # noqa: E731
Rate = lambda: fields.String(required=True, validate=_rate)  # noqa: E731
OptStr = lambda: fields.String(required=True, allow_none=True)  # noqa: E731


class HttpSchema(_Strict):
    host = fields.String(required=True)
    port = Port()
    max_body = Positive()
    cors_origins = fields.List(fields.Url(require_tld=False, schemes={"http", "https"}), required=True)
    public_url = fields.Url(required=True, allow_none=True, require_tld=False, schemes={"http", "https"})
    trust_proxy = fields.Boolean(required=True)
    request_timeout = fields.Float(required=True, validate=validate.Range(min=0.1))
    max_in_flight = fields.Integer(required=True, validate=validate.Range(min=1))


class ServerSchema(_Strict):
    workers = fields.Integer(required=True, validate=validate.Range(1, 64))
    shutdown_timeout = fields.Float(required=True, validate=validate.Range(min=0))
    blocking_threads = fields.Integer(required=True, validate=validate.Range(0, 64))


class DatabaseSchema(_Strict):
    url = fields.String(required=True, validate=_url(("mysql", "mariadb")))
    pool_min = fields.Integer(required=True, validate=validate.Range(min=0))
    pool_max = Positive()
    pool_recycle = Positive()
    connect_timeout = fields.Float(required=True, validate=validate.Range(min=0.1))
    retries = fields.Integer(required=True, validate=validate.Range(0, 10))
    replicas = fields.List(fields.String(validate=_url(("mysql", "mariadb"))), required=True)
    replica_max_lag = fields.Float(required=True, validate=validate.Range(min=0))
    replica_wait = fields.Float(required=True, validate=validate.Range(min=0, max=5))
    replica_probe_interval = fields.Float(required=True, validate=validate.Range(min=0.1))
    read_your_writes_window = fields.Float(required=True, validate=validate.Range(min=0))
    read_target_header = fields.Boolean(required=True)


def _hostport(value: str) -> None:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValidationError("must look like host:port")


class RedisSchema(_Strict):
    url = fields.String(required=True, validate=_url(("redis", "rediss")))
    sentinels = fields.List(fields.String(validate=_hostport), required=True)
    service_name = fields.String(required=True, validate=validate.Length(min=1))
    db = fields.Integer(required=True, validate=validate.Range(min=0))
    prefix = fields.String(required=True)
    socket_timeout = fields.Float(required=True, validate=validate.Range(min=0.05))
    connect_timeout = fields.Float(required=True, validate=validate.Range(min=0.05))
    request_timeout = fields.Float(required=True, validate=validate.Range(min=0.01, max=10))
    breaker_cooldown = fields.Float(required=True, validate=validate.Range(min=0.05, max=300))
    max_connections = Positive()


class BusSchema(_Strict):
    backend = fields.String(required=True, validate=validate.OneOf(["memory", "redis"]))
    replay_max = Positive()
    replay_ttl = Positive()


class AuthSchema(_Strict):
    secret = OptStr()
    issuer = fields.String(required=True)
    audience = fields.String(required=True)
    access_ttl = Positive()
    refresh_ttl = Positive()
    conduit_ttl = Positive()
    leeway = fields.Integer(required=True, validate=validate.Range(0, 300))
    bcrypt_rounds = fields.Integer(required=True, validate=validate.Range(4, 16))
    hash_queue = fields.Integer(required=True, validate=validate.Range(0, 10_000))
    reset_ttl = Positive()
    reset_url = fields.String(required=True, validate=_url(("http", "https")))
    ws_ticket_ttl = Positive()
    cookie_secure = fields.Boolean(required=True)
    cookie_name = fields.String(required=True)

    @validates_schema
    def _secret_length(self, data, **kwargs):
        secret = data.get("secret")
        if secret is not None and len(secret.encode()) < 32:
            raise ValidationError("must be at least 32 bytes", "secret")


class RateLimitSchema(_Strict):
    enabled = fields.Boolean(required=True)
    login_account = Rate()
    login_ip = Rate()
    register_ip = Rate()
    reset_ip = Rate()
    writes_user = Rate()
    ws_frames = Rate()
    reports_user = Rate()
    export_user = Rate()
    search_client = Rate()


class S3Schema(_Strict):
    endpoint_url = OptStr()
    bucket = fields.String(required=True)
    region = fields.String(required=True)
    access_key = OptStr()
    secret_key = OptStr()
    public_url = OptStr()


class MediaSchema(_Strict):
    backend = fields.String(required=True, validate=validate.OneOf(["local", "s3"]))
    dir = fields.String(required=True)
    url_path = fields.String(required=True, validate=validate.Regexp(r"^/[A-Za-z0-9_/-]*$"))
    max_image = Positive()
    max_video = Positive()
    max_pixels = Positive()
    thumb_size = fields.Integer(required=True, validate=validate.Range(16, 2048))
    image_jobs = fields.Integer(required=True, validate=validate.Range(1, 64))
    s3 = fields.Nested(S3Schema, required=True)


class SmtpSchema(_Strict):
    host = fields.String(required=True)
    port = Port()
    username = OptStr()
    password = OptStr()
    starttls = fields.Boolean(required=True)
    timeout = fields.Float(required=True, validate=validate.Range(min=0.1))


class MailSchema(_Strict):
    backend = fields.String(required=True, validate=validate.OneOf(["outbox", "smtp"]))
    outbox_dir = fields.String(required=True)
    sender = fields.String(required=True)
    smtp = fields.Nested(SmtpSchema, required=True)


class WsSchema(_Strict):
    heartbeat = fields.Float(required=True, validate=validate.Range(min=1))
    max_frame = fields.Integer(required=True, validate=validate.Range(1024, 16 * 1024 * 1024))
    send_queue = Positive()
    typing_interval = fields.Float(required=True, validate=validate.Range(min=0))
    presence_ttl = Positive()


class TimelineSchema(_Strict):
    enabled = fields.Boolean(required=True)
    size = fields.Integer(required=True, validate=validate.Range(10, 100_000))
    ttl = Positive()


class SearchSchema(_Strict):
    cache_ttl = fields.Integer(required=True, validate=validate.Range(0, 3600))


class ConduitSchema(_Strict):
    count_ttl = fields.Float(required=True, validate=validate.Range(min=0, max=3600))


class LogSchema(_Strict):
    level = fields.String(required=True, validate=validate.OneOf(["DEBUG", "INFO", "WARNING", "ERROR"]))
    json = fields.Boolean(required=True)


class ConfigSchema(_Strict):
    http = fields.Nested(HttpSchema, required=True)
    server = fields.Nested(ServerSchema, required=True)
    database = fields.Nested(DatabaseSchema, required=True)
    redis = fields.Nested(RedisSchema, required=True)
    bus = fields.Nested(BusSchema, required=True)
    auth = fields.Nested(AuthSchema, required=True)
    ratelimit = fields.Nested(RateLimitSchema, required=True)
    media = fields.Nested(MediaSchema, required=True)
    mail = fields.Nested(MailSchema, required=True)
    ws = fields.Nested(WsSchema, required=True)
    log = fields.Nested(LogSchema, required=True)
    timeline = fields.Nested(TimelineSchema, required=True)
    search = fields.Nested(SearchSchema, required=True)
    conduit = fields.Nested(ConduitSchema, required=True)

    @validates_schema
    def _workers_need_redis_bus(self, data, **kwargs):
        if data["server"]["workers"] > 1 and data["bus"]["backend"] != "redis":
            raise ValidationError("workers > 1 needs bus.backend: redis", "bus")


class Config(SimpleNamespace):
    """Validated configuration; sections and keys as attributes."""

    def as_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    def redacted(self) -> dict[str, Any]:
        data = self.as_dict()
        for path in SECRET_KEYS:
            node = data
            for part in path[:-1]:
                node = node[part]
            if node.get(path[-1]) is not None:
                node[path[-1]] = "***"
        data["database"]["url"] = redact_url(data["database"]["url"])
        data["database"]["replicas"] = [redact_url(u) for u in data["database"]["replicas"]]
        data["redis"]["url"] = redact_url(data["redis"]["url"])
        return data

    @property
    def db(self) -> SimpleNamespace:
        """database.url split into parts."""
        return db_parts(self.database.url)


def db_parts(url: str) -> SimpleNamespace:
    """A mysql:// URL split into host, port, user, password, name."""
    parts = urlsplit(url)
    return SimpleNamespace(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
        name=parts.path.lstrip("/") or "chatter",
    )


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


def _to_dict(ns: Any) -> Any:
    if isinstance(ns, SimpleNamespace):
        return {k: _to_dict(v) for k, v in vars(ns).items()}
    if isinstance(ns, list):
        return [_to_dict(v) for v in ns]
    return ns


def _to_ns(data: Any, cls=SimpleNamespace) -> Any:
    if isinstance(data, dict):
        return cls(**{k: _to_ns(v) for k, v in data.items()})
    return data


def _flatten_errors(errors: Any, prefix: str = "") -> list[str]:
    out = []
    if isinstance(errors, dict):
        for key, value in errors.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema":
                name = prefix or "config"
            out.extend(_flatten_errors(value, name))
    elif isinstance(errors, list) and errors and all(isinstance(e, str) for e in errors):
        out.append(f"{prefix}: {' '.join(errors)}")
    elif isinstance(errors, list):
        for e in errors:
            out.extend(_flatten_errors(e, prefix))
    else:
        out.append(f"{prefix}: {errors}")
    return out


def apply_env(data: dict, environ: dict[str, str]) -> None:
    """Override keys from CHATTER_<SECTION>__<KEY>[__<SUBKEY>] variables."""
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX) :].split("__")]
        node = data
        for part in path[:-1]:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"{name}: no such configuration key {'.'.join(path)}")
            node = node[part]
        if path[-1] not in node:
            raise ConfigError(f"{name}: no such configuration key {'.'.join(path)}")
        try:
            value = yaml.safe_load(raw) if raw != "" else None
        except yaml.YAMLError:
            value = raw
        if isinstance(node[path[-1]], str) and value is not None and not isinstance(value, str):
            value = raw  # keep strings strings ("0123" stays "0123")
        if isinstance(node[path[-1]], list) and isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        node[path[-1]] = value


def load_config(
    path: str | os.PathLike | None = None,
    environ: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
    secret_dir: str | os.PathLike | None = None,
) -> Config:
    """Read config.yaml, apply the environment and overrides, validate.

    Raises ConfigError with one line per bad key.
    """
    environ = dict(os.environ if environ is None else environ)
    with open(path or DEFAULT_FILE, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    for secret_path in SECRET_KEYS:
        node = data
        for part in secret_path[:-1]:
            node = node.get(part) or {}
        if node.get(secret_path[-1]) is not None:
            raise ConfigError(
                f"{'.'.join(secret_path)}: secrets are read only from the environment "
                f"(CHATTER_{'__'.join(p.upper() for p in secret_path)})"
            )
    apply_env(data, environ)
    if overrides:
        _merge(data, copy.deepcopy(overrides))
    try:
        clean = ConfigSchema().load(data)
    except ValidationError as exc:
        raise ConfigError("; ".join(_flatten_errors(exc.messages))) from None
    http = clean["http"]
    if http["public_url"] is None:
        host = "127.0.0.1" if http["host"] in ("0.0.0.0", "::", "") else http["host"]
        http["public_url"] = f"http://{host}:{http['port']}"
    if clean["auth"]["secret"] is None:
        clean["auth"]["secret"] = _dev_secret(Path(secret_dir) if secret_dir else ROOT / "var")
    return _to_ns(clean, Config)


def _merge(base: dict, extra: dict) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _dev_secret(directory: Path) -> str:
    path = directory / "secret"
    if path.exists():
        return path.read_text().strip()
    log.warning("CHATTER_AUTH__SECRET is not set: using a generated development secret kept in %s", path)
    directory.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret + "\n")
    return secret
