"""Local services: use the configured MariaDB/Redis when reachable, else start private ones."""

from __future__ import annotations

import atexit
import contextlib
import logging
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger(__name__)


class ServiceError(RuntimeError):
    """A needed service is neither reachable nor startable."""


def reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceError(f"{what} exited with code {proc.returncode} while starting")
        if reachable("127.0.0.1", port, 0.2):
            return
        time.sleep(0.1)
    proc.kill()
    raise ServiceError(f"{what} did not start listening on 127.0.0.1:{port} within {timeout:.0f} s")


def _binary(*names: str, package: str) -> str:
    for name in names:
        path = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
        if path:
            return path
    raise ServiceError(f"{names[0]} is not installed; on Debian: apt-get install {package}")


@dataclass
class Private:
    """A private server process under a directory of ours."""

    name: str
    port: int
    proc: subprocess.Popen
    directory: Path
    args: list[str] = field(default_factory=list)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def pause(self) -> None:
        import signal
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        import signal
        self.proc.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        self.stop()
        with open(self.directory / f"{self.name}.log", "ab") as logf:
            self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=logf)
        _wait_port(self.port, self.proc, self.name)


def start_redis(directory: Path, port: int | None = None) -> Private:
    binary = _binary("redis-server", package="redis-server")
    directory.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
            "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes"]
    with open(directory / "redis.log", "ab") as logf:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=logf)
    _wait_port(port, proc, "redis-server")
    return Private("redis", port, proc, directory, args)


def start_mariadb(directory: Path, port: int | None = None) -> Private:
    binary = _binary("mariadbd", "mysqld", package="mariadb-server")
    install = _binary("mariadb-install-db", "mysql_install_db", package="mariadb-server")
    data = directory / "data"
    port = port or free_port()
    if not (data / "mysql").exists():
        data.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [install, "--no-defaults", f"--datadir={data}", "--user=root",
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ServiceError(f"mariadb-install-db failed: {result.stderr[-500:]}")
    args = [binary, "--no-defaults", f"--datadir={data}", "--user=root", f"--port={port}",
            "--bind-address=127.0.0.1", f"--socket={directory / 'mysqld.sock'}",
            f"--pid-file={directory / 'mysqld.pid'}", "--skip-log-bin", "--innodb-buffer-pool-size=256M",
            "--innodb-flush-log-at-trx-commit=2", "--max-connections=500", "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci"]
    with open(directory / "mariadb.log", "ab") as logf:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=logf)
    _wait_port(port, proc, "mariadbd", timeout=60)
    return Private("mariadb", port, proc, directory, args)


def ensure_services(database_url: str, redis_url: str, var_dir: Path) -> tuple[str, str, list[Private]]:
    """Return (database_url, redis_url, started): the configured ones if reachable, else private ones."""
    started: list[Private] = []
    db = urlsplit(database_url)
    if not reachable(db.hostname or "127.0.0.1", db.port or 3306):
        log.warning("MariaDB at %s:%s is not reachable: starting a private one under %s",
                    db.hostname, db.port or 3306, var_dir / "mariadb")
        svc = start_mariadb(var_dir / "mariadb", _kept_port(var_dir / "mariadb"))
        started.append(svc)
        dbname = db.path.lstrip("/") or "chatter"
        database_url = f"mysql://root:@127.0.0.1:{svc.port}/{dbname}"
    rd = urlsplit(redis_url)
    if not reachable(rd.hostname or "127.0.0.1", rd.port or 6379):
        log.warning("Redis at %s:%s is not reachable: starting a private one under %s",
                    rd.hostname, rd.port or 6379, var_dir / "redis")
        svc = start_redis(var_dir / "redis", _kept_port(var_dir / "redis"))
        started.append(svc)
        redis_url = f"redis://127.0.0.1:{svc.port}/0"
    for svc in started:
        atexit.register(svc.stop)
    return database_url, redis_url, started


def _kept_port(directory: Path) -> int:
    """A private service keeps its port between runs (var/ is kept for `make run`)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "port"
    with contextlib.suppress(ValueError, OSError):
        port = int(path.read_text())
        if not reachable("127.0.0.1", port, 0.2):
            return port
    port = free_port()
    path.write_text(str(port))
    return port
