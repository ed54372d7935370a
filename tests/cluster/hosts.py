"""The cluster's hosts: each service runs in its own network namespace (tools/cluster/netns.sh).

Everything listens on a private address of the namespaces' bridge; nothing is reachable from,
or reaches, the machine's own network. The orchestrator runs in the client namespace (chc-cli).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pymysql

from server.config import ROOT

PREFIX = os.environ.get("CLUSTER_NETNS_PREFIX", "chc")
SUBNET = os.environ.get("CLUSTER_SUBNET", "10.213.7")
ADDR = {"db1": 11, "db2": 12, "r1": 21, "r2": 22, "r3": 23, "app1": 31, "app2": 32, "app3": 33,
        "lb": 40, "cli": 50}
APPS = ["app1", "app2", "app3"]
SENTINELS = ["r1", "r2", "r3"]
APP_PORT, LB_PORT, DB_PORT, REDIS_PORT, SENTINEL_PORT = 8080, 8080, 3306, 6379, 26379
SERVICE = "chatter"
DB_USER, DB_PASSWORD = "chatter", "chatter-cluster"
SECRET = "cluster-test-secret-" + "s" * 32


def ip(host: str) -> str:
    return f"{SUBNET}.{ADDR[host]}"


def binary(*names: str) -> str:
    for name in names:
        path = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
        if path:
            return path
    raise RuntimeError(f"{names[0]} is not installed (tools/cluster/deps.sh installs it)")


def reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class Proc:
    """One process on one host; its process group is what kill -9 of the host kills."""

    name: str
    host: str
    args: list[str]
    log: Path
    env: dict[str, str] | None = None
    port: int | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def start(self, wait: float = 60) -> Proc:
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen(["ip", "netns", "exec", f"{PREFIX}-{self.host}", *self.args],
                                         stdout=logf, stderr=subprocess.STDOUT, env=self.env,
                                         start_new_session=True, cwd=ROOT)
        if self.port is not None:
            self.wait_port(wait)
        return self

    def wait_port(self, wait: float) -> None:
        deadline = time.monotonic() + wait
        while not reachable(ip(self.host), self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} is not listening on {ip(self.host)}:{self.port}; see {self.log}")
            time.sleep(0.1)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """kill -9 of the whole process group (a host dying)."""
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 30) -> None:
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()


class Cluster:
    def __init__(self, workdir: Path, *, workers: int = 2):
        self.dir = workdir
        self.workers = workers
        self.procs: dict[str, Proc] = {}
        self.redis_master = "r1"

    # --- MariaDB --------------------------------------------------------------------------

    def _mariadb(self, host: str, server_id: int, extra: list[str]) -> Proc:
        data = self.dir / host / "data"
        if not (data / "mysql").exists():
            data.mkdir(parents=True, exist_ok=True)
            done = subprocess.run([binary("mariadb-install-db", "mysql_install_db"), "--no-defaults",
                                   f"--datadir={data}", "--user=root", "--auth-root-authentication-method=normal",
                                   "--skip-test-db"], capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"mariadb-install-db failed: {(done.stdout + done.stderr)[-800:]}")
        args = [binary("mariadbd", "mysqld"), "--no-defaults", f"--datadir={data}", "--user=root",
                f"--bind-address={ip(host)}", f"--port={DB_PORT}", f"--socket={self.dir / host / 'mysqld.sock'}",
                f"--pid-file={self.dir / host / 'mysqld.pid'}", f"--server-id={server_id}",
                "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=48M", "--innodb-flush-log-at-trx-commit=2",
                "--max-connections=400", "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_unicode_ci", "--skip-name-resolve", *extra]
        return Proc(host, host, args, self.dir / f"{host}.log", port=DB_PORT)

    def admin(self, host: str, *statements: str | tuple[str, tuple]) -> list:
        """Run statements (SQL, or (SQL, args)) as root over the host's unix socket."""
        conn = pymysql.connect(unix_socket=str(self.dir / host / "mysqld.sock"), user="root", password="",
                               autocommit=True, cursorclass=pymysql.cursors.DictCursor)
        try:
            out = []
            with conn.cursor() as cur:
                for stmt in statements:
                    sql, args = stmt if isinstance(stmt, tuple) else (stmt, None)
                    cur.execute(sql, args)
                    out.append(cur.fetchall())
            return out
        finally:
            conn.close()

    def start_databases(self) -> None:
        self.procs["db1"] = self._mariadb("db1", 1, ["--log-bin=mysql-bin", "--binlog-format=ROW",
                                                      "--log-slave-updates"]).start()
        self.admin("db1",
                   f"CREATE USER '{DB_USER}'@'%' IDENTIFIED BY '{DB_PASSWORD}'",
                   f"GRANT ALL ON *.* TO '{DB_USER}'@'%'",
                   "CREATE USER 'repl'@'%' IDENTIFIED BY 'repl'",
                   "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%'")
        self.procs["db2"] = self._mariadb("db2", 2, ["--read-only", "--relay-log=relay-bin"]).start()
        self.admin("db2",
                   f"CHANGE MASTER TO MASTER_HOST='{ip('db1')}', MASTER_PORT={DB_PORT}, MASTER_USER='repl', "
                   "MASTER_PASSWORD='repl', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
                   "START SLAVE")
        deadline = time.monotonic() + 30
        while True:  # the users created on the primary arrive through replication
            status = self.replica_status()
            if status and status["Slave_IO_Running"] == "Yes" and self.admin(
                    "db2", f"SELECT 1 FROM mysql.user WHERE user = '{DB_USER}'")[0]:  # noqa: S608
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the replica did not start replicating: {status}")
            time.sleep(0.2)

    def replica_status(self) -> dict | None:
        rows = self.admin("db2", "SHOW SLAVE STATUS")[0]
        return rows[0] if rows else None

    def set_replica_delay(self, seconds: int) -> None:
        self.admin("db2", "STOP SLAVE", f"CHANGE MASTER TO MASTER_DELAY={int(seconds)}", "START SLAVE")

    def db_url(self, host: str) -> str:
        return f"mysql://{DB_USER}:{DB_PASSWORD}@{ip(host)}:{DB_PORT}/chatter"

    # --- Redis + Sentinel -----------------------------------------------------------------

    def _redis(self, host: str, replica_of: str | None) -> Proc:
        (self.dir / host).mkdir(parents=True, exist_ok=True)
        args = [binary("redis-server"), "--bind", ip(host), "--port", str(REDIS_PORT), "--protected-mode", "no",
                "--save", "", "--appendonly", "no", "--dir", str(self.dir / host)]
        if replica_of:
            args += ["--replicaof", ip(replica_of), str(REDIS_PORT)]
        return Proc(f"redis-{host}", host, args, self.dir / f"redis-{host}.log", port=REDIS_PORT)

    def _sentinel(self, host: str) -> Proc:
        directory = self.dir / host
        directory.mkdir(parents=True, exist_ok=True)
        conf = directory / "sentinel.conf"
        conf.write_text(
            f"port {SENTINEL_PORT}\nbind {ip(host)}\nprotected-mode no\ndir {directory}\n"
            f"sentinel monitor {SERVICE} {ip('r1')} {REDIS_PORT} 2\n"
            f"sentinel down-after-milliseconds {SERVICE} 1000\n"
            f"sentinel failover-timeout {SERVICE} 5000\n"
            f"sentinel parallel-syncs {SERVICE} 1\n")
        return Proc(f"sentinel-{host}", host, [binary("redis-server"), str(conf), "--sentinel"],
                    self.dir / f"sentinel-{host}.log", port=SENTINEL_PORT)

    def start_redis(self) -> None:
        self.procs["redis-r1"] = self._redis("r1", None).start()
        self.procs["redis-r2"] = self._redis("r2", "r1").start()
        for host in SENTINELS:
            self.procs[f"sentinel-{host}"] = self._sentinel(host).start()

    def restart_redis(self, host: str, replica_of: str) -> None:
        """A Redis that died comes back as a replica of the current master."""
        self.procs[f"redis-{host}"] = self._redis(host, replica_of).start()

    # --- app hosts + HAProxy --------------------------------------------------------------

    def app_env(self, host: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHATTER_")}
        env.update({
            "CHATTER_AUTH__SECRET": SECRET,
            "CHATTER_AUTH__BCRYPT_ROUNDS": "4",
            "CHATTER_AUTH__HASH_QUEUE": "1000",  # registrations 16 at a time are no login storm
            "CHATTER_DATABASE__URL": self.db_url("db1"),
            "CHATTER_DATABASE__REPLICAS": self.db_url("db2"),
            "CHATTER_DATABASE__READ_TARGET_HEADER": "true",
            "CHATTER_DATABASE__POOL_MAX": "10",
            "CHATTER_REDIS__SENTINELS": ",".join(f"{ip(h)}:{SENTINEL_PORT}" for h in SENTINELS),
            "CHATTER_REDIS__SERVICE_NAME": SERVICE,
            "CHATTER_REDIS__PREFIX": "cluster:",
            "CHATTER_HTTP__PUBLIC_URL": f"http://{ip('lb')}:{LB_PORT}",
            "CHATTER_HTTP__TRUST_PROXY": "true",
            "CHATTER_RATELIMIT__REGISTER_IP": "100000/3600",
            "CHATTER_RATELIMIT__LOGIN_IP": "100000/900",
            "CHATTER_RATELIMIT__WRITES_USER": "100000/60",
            "CHATTER_RATELIMIT__WS_FRAMES": "1000/5",
            "CHATTER_MEDIA__DIR": str(self.dir / host / "media"),
            "CHATTER_MAIL__OUTBOX_DIR": str(self.dir / host / "outbox"),
            "CHATTER_LOG__JSON": "false",
            "CHATTER_LOG__LEVEL": "INFO",
            "CHATTER_SERVER__SHUTDOWN_TIMEOUT": "2",
        })
        return env

    def migrate(self) -> None:
        subprocess.run(["ip", "netns", "exec", f"{PREFIX}-app1", sys.executable, "-m", "server",
                        "--no-local-services", "migrate"], env=self.app_env("app1"), cwd=ROOT, check=True,
                       capture_output=True)

    def _app(self, host: str) -> Proc:
        (self.dir / host).mkdir(parents=True, exist_ok=True)
        args = [sys.executable, "-m", "server", "--no-local-services", "run", "--workers", str(self.workers),
                "--host", ip(host), "--port", str(APP_PORT)]
        return Proc(host, host, args, self.dir / f"{host}.log", env=self.app_env(host), port=APP_PORT)

    def start_app(self, host: str) -> None:
        self.procs[host] = self._app(host).start(wait=120)

    def start_haproxy(self) -> None:
        (self.dir / "lb").mkdir(parents=True, exist_ok=True)
        cfg = self.dir / "lb" / "haproxy.cfg"
        servers = "\n".join(f"    server {h} {ip(h)}:{APP_PORT} check" for h in APPS)
        servers += "\n" + "\n".join(f"    server {h}-open {ip(h)}:{APP_PORT} backup" for h in APPS)
        cfg.write_text(HAPROXY_CFG.format(bind=f"{ip('lb')}:{LB_PORT}", servers=servers))
        self.procs["lb"] = Proc("haproxy", "lb", [binary("haproxy"), "-db", "-f", str(cfg)],
                                self.dir / "haproxy.log", port=LB_PORT).start()

    def stop_all(self) -> None:
        for name in reversed(list(self.procs)):
            proc = self.procs[name]
            if name.startswith("app") or name == "lb":
                proc.kill()
            else:
                proc.stop()


# roundrobin, no stickiness; /readyz decides who takes traffic; WebSockets are tunnelled for
# `timeout tunnel`. A connection refused by a dead host is redispatched to another one, so only
# requests already sent to a host that dies fail (502). X-Served-By names the app host.
# /readyz fails on every host at once while Redis has no master (a failover): then the unchecked
# `backup` entries take the traffic (fail open) instead of HAProxy answering 503 to everything.
HAPROXY_CFG = """\
global
    maxconn 4096

defaults
    mode http
    option httplog
    timeout connect 1s
    timeout client 60s
    timeout server 30s
    timeout tunnel 1h
    timeout http-keep-alive 10s
    timeout check 2s
    retries 2
    option redispatch 1

frontend chatter
    bind {bind}
    default_backend apps

backend apps
    balance roundrobin
    option forwardfor
    option allbackups
    option httpchk
    http-check send meth GET uri /readyz
    http-check expect status 200
    default-server inter 1s fall 2 rise 2
    http-response set-header X-Served-By %s
{servers}
"""
