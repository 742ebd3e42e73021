"""A real MQTT broker on a free local port, in its own process so a test can stop and
restart it: mosquitto when the binary exists, and the project's embedded broker."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from monitor.tools.broker import free_port

KINDS = ["embedded"] + (["mosquitto"] if shutil.which("mosquitto") else [])


class BrokerProcess:
    def __init__(self, kind: str, workdir: Path, users: dict[str, str] | None = None) -> None:
        """``users``: mosquitto only, anonymous clients refused, these name/password pairs
        accepted (a password file made with ``mosquitto_passwd``)."""
        self.kind = kind
        self.workdir = workdir
        self.users = users or {}
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        if self.kind == "mosquitto":
            conf = self.workdir / "mosquitto.conf"
            auth = "allow_anonymous true\n"
            if self.users:
                passwd = self.workdir / "passwd"
                passwd.write_text("")
                for name, password in self.users.items():
                    tool = shutil.which("mosquitto_passwd") or "mosquitto_passwd"
                    subprocess.run([tool, "-b", str(passwd), name, password], check=True)
                auth = f"allow_anonymous false\npassword_file {passwd}\n"
                if os.geteuid() == 0:  # else it drops to user mosquitto: no access to tmp
                    auth += "user root\n"
            conf.write_text(f"listener {self.port} 127.0.0.1\n{auth}persistence false\n")
            cmd = [shutil.which("mosquitto") or "mosquitto", "-c", str(conf)]
        else:
            cmd = [sys.executable, "-m", "monitor.tools.broker", "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.kind} broker did not listen on {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
