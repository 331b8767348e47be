"""``xunjian serve`` in a subprocess, over HTTPS (--tls) or behind a pretend proxy, for the TLS tests."""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
from conftest import ROOT, free_port


class Server:
    def __init__(
        self, env: dict, *, tls: bool, data_dir: Path, flag: bool = True, ca: Path | None = None
    ) -> None:
        """``tls``: HTTPS, with ``--tls`` on the command line unless ``flag`` is false (the
        environment says so); ``ca``: the trust root, by default the data directory's local CA."""
        self.port = free_port()
        self.flag = flag
        self.ca = ca
        self.env = env
        self.tls = tls
        self.data_dir = data_dir
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    @property
    def ca_path(self) -> Path:
        return self.ca or self.data_dir / "tls" / "ca.crt"

    def trusting_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_path))

    def start(self) -> Server:
        command = [sys.executable, "-m", "server.cli", "serve", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--log-level", "warning"]
        if self.tls and self.flag:
            command.append("--tls")
        self.process = subprocess.Popen(
            command,
            env={**self.env, "XUNJIAN_DATA_DIR": str(self.data_dir)},
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited during start-up: {self.process.stdout.read()}")
            if not self.tls or self.ca_path.exists():
                verify = self.trusting_context() if self.tls else True
                try:
                    if (
                        httpx.get(f"{self.url}/healthz", verify=verify, timeout=1).status_code
                        == 200
                    ):
                        return self
                except (httpx.HTTPError, ssl.SSLError):
                    pass
            time.sleep(0.1)
        raise RuntimeError("server did not become healthy in 30 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process and self.process.stdout:
            self.process.stdout.close()
