"""What every local server has in common, and the small process helpers they share.

A server is a :class:`Service`: it knows whether it is installed and how to
install itself, writes its configuration from the settings, starts one
detached process, answers a health check with a real request, and stops.
Everything it keeps (configuration, data, pid, log) lives under
``runtime_dir/<name>/``; what it downloads lives in ``downloads_dir``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from flowsense.errors import InputError
from flowsense.settings import Settings

LOOPBACK = "127.0.0.1"
LOG_ROTATE_BYTES = 64 << 20
"""A log above this size is moved to ``<name>.log.1`` when its server starts."""


Progress = Callable[[str], None]
"""Where ``up`` and ``down`` report what they do, one line at a time."""


class ServiceError(InputError):
    """A server cannot be installed, started or reached; the message says why, in one line."""


class Service(ABC):
    """One local server, kept under ``runtime_dir/<name>/``."""

    name: ClassVar[str]
    jvm: ClassVar[bool] = False
    """Started one at a time: two JVMs starting together only share the 2 cores."""
    stop_signal: ClassVar[int] = signal.SIGTERM
    start_timeout_s: ClassVar[float] = 90.0
    stop_timeout_s: ClassVar[float] = 30.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.downloads = settings.downloads_dir.expanduser().resolve()
        self.dir = settings.runtime_dir.expanduser().resolve() / self.name
        self.log_path = self.dir / f"{self.name}.log"
        self.pid_path = self.dir / f"{self.name}.pid"
        self.marker = self.name
        """A string in the process's command line, so that a reused pid is not taken for ours."""

    # --- what each server says about itself -------------------------------------------------

    @property
    @abstractmethod
    def host(self) -> str:
        """The host the settings point clients to (must be this machine)."""

    @property
    @abstractmethod
    def ports(self) -> dict[str, int]:
        """Every port it listens on, by use; the first is the main one."""

    @abstractmethod
    def installed(self) -> bool:
        """Whether everything it needs to start is on this machine."""

    @abstractmethod
    def install(self) -> None:
        """Download or install what is missing (cached, so done once)."""

    @abstractmethod
    def configure(self) -> None:
        """Write the configuration from the settings and prepare storage; before every start."""

    @abstractmethod
    def command(self) -> list[str]:
        """The command line of the server process (it must stay in the foreground)."""

    def spawn_options(self) -> dict[str, Any]:
        """Extra ``subprocess.Popen`` arguments (e.g. the user to run as)."""
        return {}

    @abstractmethod
    def healthy(self) -> bool:
        """One real request answered, within a second or two; never raises."""

    def provision(self, progress: Progress) -> dict[str, Any]:
        """Create what clients expect (topics, roles); on every ``up``, idempotent."""
        return {}

    # --- the same for every server ----------------------------------------------------------

    @property
    def port(self) -> int:
        return next(iter(self.ports.values()))

    def check_local(self) -> None:
        if self.host not in (LOOPBACK, "localhost"):
            raise ServiceError(
                f"{self.name}: the settings point to {self.host}; `flowsense services` runs "
                f"local servers only (set FLOWSENSE_{self.name.upper()}__* back to {LOOPBACK})"
            )

    def check_ports_free(self) -> None:
        for use, port in self.ports.items():
            if port_open(LOOPBACK, port):
                raise ServiceError(
                    f"{self.name}: {LOOPBACK}:{port} ({use}) is in use by another process"
                    f"{port_owner(port)}; stop it, or choose another port with "
                    f"FLOWSENSE_{self.name.upper()}__*"
                )

    def pid(self) -> int | None:
        """The pid of our running server, or None."""
        try:
            pid = int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) and self.marker in cmdline(pid) else None

    def start(self) -> subprocess.Popen:
        """Start the server detached (own session, output to the log); does not wait."""
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.log_path.exists() and self.log_path.stat().st_size > LOG_ROTATE_BYTES:
            self.log_path.replace(self.log_path.with_name(self.log_path.name + ".1"))
        with open(self.log_path, "ab") as log:
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            log.write(f"=== flowsense services: starting {self.name} at {stamp}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                self.command(),
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **self.spawn_options(),
            )
        self.pid_path.write_text(f"{proc.pid}\n")
        return proc

    def started(self, proc: subprocess.Popen | None, since: float) -> bool:
        """Whether it answers yet; raises if its process ended or ``start_timeout_s`` passed.

        ``proc`` is the process we just started, or None for one already running.
        """
        if self.healthy():
            return True
        ended = proc.poll() is not None if proc is not None else self.pid() is None
        if ended:
            raise ServiceError(
                f"{self.name} stopped while starting: {last_error(self.log_path)} "
                f"(log: {self.log_path})"
            )
        if time.monotonic() - since > self.start_timeout_s:
            raise ServiceError(
                f"{self.name} did not answer within {self.start_timeout_s:.0f} s "
                f"(log: {self.log_path})"
            )
        return False

    def stop(self) -> dict[str, Any]:
        """Graceful stop, then SIGKILL after ``stop_timeout_s``; nothing to do if not running."""
        pid = self.pid()
        if pid is None:
            self.pid_path.unlink(missing_ok=True)
            return {"stopped": False, "pid": None}
        t0 = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, self.stop_signal)
        killed = not wait_gone(pid, self.stop_timeout_s)
        if killed:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)  # started in its own session: pid is the group
            wait_gone(pid, 5.0)
        self.pid_path.unlink(missing_ok=True)
        return {
            "stopped": True,
            "pid": pid,
            "killed": killed,
            "seconds": round(time.monotonic() - t0, 2),
        }

    def info(self) -> dict[str, Any]:
        """Running?, pid, ports, healthy?, memory, log: what ``status`` shows."""
        pid = self.pid()
        return {
            "running": pid is not None,
            "pid": pid,
            "port": self.port,
            "ports": self.ports,
            "healthy": pid is not None and self.healthy(),
            "rss_mb": rss_mb(pid) if pid is not None else None,
            "log": str(self.log_path),
        }


# --- processes and ports --------------------------------------------------------------------


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """Whether something accepts TCP connections there."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def port_owner(port: int) -> str:
    """`` (name, pid N)`` of the process listening on the port, if ``ss`` can tell."""
    try:
        out = subprocess.run(
            ["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, timeout=5
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    m = re.search(r'\("([^"]+)",pid=(\d+)', out)
    return f" ({m[1]}, pid {m[2]})" if m else ""


def pid_alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie (Linux ``/proc``)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def wait_gone(pid: int, timeout_s: float) -> bool:
    """Wait until the process has exited; whether it did in time."""
    deadline = time.monotonic() + timeout_s
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# --- logs -----------------------------------------------------------------------------------


def tail(path: Path, lines: int) -> list[str]:
    """The last ``lines`` lines of a file, read from its end."""
    if lines <= 0 or not path.exists():
        return []
    with open(path, "rb") as f:
        end = f.seek(0, os.SEEK_END)
        pos, data, block = end, b"", 8192
        while pos > 0 and data.count(b"\n") <= lines:
            step = min(block, pos)
            pos -= step
            f.seek(pos)
            data = f.read(step) + data
            block *= 2
    return data.decode(errors="replace").splitlines()[-lines:]


_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # Maven colours its output even in batch mode
_ERROR_LINE = re.compile(r"^E: |error|exception|fatal|failed|cannot|could not|unable", re.I)


def last_error(path: Path) -> str:
    """The last line of a log that looks like an error (else its last line), shortened."""
    recent = [line.strip() for line in tail(path, 60) if line.strip()]
    errors = [line for line in recent if _ERROR_LINE.search(line) and not line.startswith("at ")]
    line = (errors or recent or ["no output"])[-1]
    return line if len(line) <= 300 else line[:297] + "..."


# --- installing -----------------------------------------------------------------------------


def run(cmd: list[str], what: str, **kwargs: Any) -> subprocess.CompletedProcess:
    """Run a command to completion; a failure is a one-line ServiceError."""
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    except OSError as e:
        raise ServiceError(f"{what}: {e.strerror}: {cmd[0]}") from None
    if res.returncode != 0:
        err, out = (
            [ln.strip() for ln in _ANSI.sub("", text).splitlines() if ln.strip()]
            for text in (res.stderr, res.stdout)
        )
        errors = [ln for ln in err + out if _ERROR_LINE.search(ln)]
        detail = errors[0] if errors else (err or out or ["no output"])[-1]
        detail = detail if len(detail) <= 300 else detail[:297] + "..."
        raise ServiceError(f"{what} failed (exit {res.returncode}): {detail}")
    return res


def require(program: str, package: str) -> str:
    """The path of a program on PATH, or a one-line error naming the Debian package."""
    path = shutil.which(program)
    if path is None:
        raise ServiceError(
            f"{program} not found: install it (Debian: apt-get install {package}) or put it on PATH"
        )
    return path


_apt_lock = threading.Lock()


def apt_install(package: str) -> None:
    """``apt-get install`` one Debian package (with ``apt-get update`` if the lists are stale)."""
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise ServiceError(f"{package} is not installed: install it with apt-get (needs root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", package]
    with _apt_lock:  # dpkg takes one install at a time
        if subprocess.run(cmd, capture_output=True, env=env).returncode != 0:
            run(["apt-get", "update", "-q"], "apt-get update", env=env)
            run(cmd, f"apt-get install {package}", env=env)


_maven_lock = threading.Lock()


def maven_libs(pom: Path, dest: Path, properties: dict[str, str], downloads: Path) -> None:
    """Copy the runtime dependencies of ``pom`` into ``dest`` (Maven Central, cached).

    Maven's local repository is ``downloads/maven``, so the plugin and every jar
    are downloaded once; ``dest/.complete`` marks a finished copy.
    """
    if (dest / ".complete").exists():
        return
    mvn = require("mvn", "maven")
    work = dest.with_name(dest.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shutil.copy(pom, work / "pom.xml")
    cmd = [
        mvn,
        "-B",
        "-q",
        "--no-transfer-progress",
        f"-Dmaven.repo.local={downloads / 'maven'}",
        *(f"-D{k}={v}" for k, v in properties.items()),
        "dependency:copy-dependencies",
        "-Dmdep.includeScope=runtime",
        f"-DoutputDirectory={work / 'libs'}",
    ]
    try:
        with _maven_lock:  # one Maven at a time on the shared local repository
            run(cmd, f"mvn, downloading {pom.name} from Maven Central,", cwd=work)
        shutil.rmtree(dest, ignore_errors=True)
        (work / "libs").rename(dest)
        (dest / ".complete").touch()
    finally:
        shutil.rmtree(work, ignore_errors=True)
