"""HAN Port demo: a simulated meter read by a real Home Assistant through the integration.

A simulated meter (``han/simulator.py``) pushes its frames into a
pseudo-terminal at the meter's cadence. Home Assistant runs from ``.venv`` with
a fresh configuration in ``.demo/config``; the demo completes onboarding
through Home Assistant's onboarding API, adds the meter through HAN Port's
config flow over the REST API (the flow listens on the pseudo-terminal and
finds the meter as it would a real one) and prints where to log in and which
entities came up. With ``--no-entry`` the meter is left for the user (or the
browser test, scripts/ui-test) to add in the UI. Ctrl+C stops Home Assistant
and the meter.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence
import contextlib
from datetime import UTC, datetime, timedelta
import errno
import importlib.metadata
import importlib.util
import json
import os
from pathlib import Path
import random
import shutil
import signal
import socket
import subprocess
import sys
import termios
import threading
import time
import tty
import types
from typing import Any
import urllib.error
import urllib.parse
import urllib.request

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _decoder_alone() -> None:
    """Import the decoder without the integration around it (as scripts/bench does).

    The integration's ``__init__`` imports Home Assistant, which takes seconds;
    the demo process only needs the simulator and the decoder, which need none.
    """
    for name in ("custom_components", "custom_components.han_port"):
        module = types.ModuleType(name)
        module.__path__ = [str(ROOT.joinpath(*name.split(".")))]
        sys.modules.setdefault(name, module)


_decoder_alone()

from custom_components.han_port.han.model import Quantity, Telegram  # noqa: E402
from custom_components.han_port.han.simulator import SUPPORTED_VENDORS, MeterSimulator  # noqa: E402
from custom_components.han_port.han.stream import StreamDecoder  # noqa: E402

USAGE = """\
examples:
  scripts/demo [--vendor aidon|kaifa|kamstrup] [--fast] [--port N]
  scripts/demo --smoke [--vendor V] [--fast]
                    headless: wait for live values over the REST API, then stop
  scripts/demo --no-entry [--fast] [--port N]
                    onboarded, meter running, HAN Port not added: add it in the UI
  scripts/demo --decoder [--vendor V] [--speed N] [--duration S]
                    the decoder alone: a simulated meter's telegrams printed live
"""
DEMO_DIR = ROOT / ".demo"  # --dir changes these three
CONFIG_DIR = DEMO_DIR / "config"
LOG_FILE = DEMO_DIR / "home-assistant.log"
HOST = "127.0.0.1"
USERNAME = "demo"
PASSWORD = "demo-han-port"  # noqa: S105 - a throwaway demo account on loopback
FAST_SPEED = 60.0  # --fast: an hour in a minute
# --fast starts the meter's clock this far behind the wall clock. HAN Port
# refuses hourly registers stated more than 3 h ahead of their arrival (a
# meter with a wrong clock), so a fast meter that started at the wall clock
# would be refused after three minutes; a day behind gives it 27 minutes.
FAST_BEHIND = timedelta(days=1)
# Home Assistant sets these integrations up whatever the configuration says
# (the frontend, the base platforms and their dependencies). Their Python
# requirements are not part of the homeassistant package, and Home Assistant
# runs with --skip-pip (no installs at start), so they are installed here once
# into .venv, at the versions the installed Home Assistant pins (without its
# constraints file, so pip adds packages and leaves the tests' ones alone). The
# frontend is needed for the UI and for
# onboarding (without it Home Assistant starts in recovery mode); the others
# keep import errors out of the log. Not installed: Met.no, Radio Browser and
# Google Translate, which finishing onboarding tries to set up; they would
# reach the internet, so they fail with a logged import error instead, and the
# entry of the one that gets that far is removed again.
FOUND_KEYS = ("vendor", "model", "meter_id", "format", "line")
ONBOARDING_EXTRAS = frozenset({"google_translate", "met", "radio_browser"})
BUILT_IN = (
    "frontend",
    "conversation",
    "ffmpeg",
    "camera",
    "tts",
    "assist_pipeline",
    "radio_frequency",
    "infrared",
)

CONFIGURATION = """\
# Written by scripts/demo; the directory is recreated on each run.
homeassistant:
  name: HAN Port demo
  latitude: 59.9133
  longitude: 10.7389
  elevation: 23
  unit_system: metric
  time_zone: Europe/Oslo
  currency: NOK
  country: "NO"
  language: en
{http}config:
energy:
history:
logbook:
recorder:
  purge_keep_days: 3
logger:
  default: warning
  logs:
    custom_components.han_port: info
"""
HTTP_YAML = """\
http:
  server_host: {host}
  server_port: {port}
"""


class DemoError(Exception):
    """Something the demo needs did not happen; the message says what."""


# The meter ------------------------------------------------------------------


class PtyMeter(threading.Thread):
    """A simulated meter writing its pushes into a pseudo-terminal on schedule.

    Home Assistant opens the terminal's slave side like any serial port. The
    demo keeps the slave open too, so the terminal survives Home Assistant
    closing and reopening the port (the config flow listens, then the entry
    opens it again). A push nobody reads is dropped once the terminal's
    buffer is full, as bytes on a real wire would be.
    """

    def __init__(self, vendor: str, speed: float, seed: int) -> None:
        """Open the pseudo-terminal; nothing is sent until ``start``."""
        super().__init__(name="meter", daemon=True)
        self.vendor = vendor
        self.speed = speed
        self.seed = seed
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        self.sent = 0
        self.dropped = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()

    def run(self) -> None:
        """Send each push at its time until stopped."""
        try:
            self._run()
        except BaseException as err:  # noqa: BLE001 - reported by the main thread
            self.error = err

    def _run(self) -> None:
        start = datetime.now(UTC) - (FAST_BEHIND if self.speed > 1 else timedelta())
        began = time.monotonic()
        simulator = MeterSimulator(self.vendor, start=start, seed=self.seed)
        for frame in simulator.frames_until(start + timedelta(days=3650)):
            due = (frame.time - start).total_seconds() / self.speed
            while (wait := due - (time.monotonic() - began)) > 0:
                if self._stop.wait(min(wait, 0.2)):
                    return
                self._unsettle()
            if self._stop.is_set():
                return
            self._discard_echo()
            self._write(frame.data)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(self._master, view)
            except BlockingIOError:
                # Nobody reads (the port is closed between the flow and the
                # entry): the rest of the push is lost, as on a real line.
                self.dropped += 1
                with contextlib.suppress(termios.error):
                    termios.tcflush(self._slave, termios.TCIFLUSH)
                return
            view = view[written:]
        self.sent += 1

    def _unsettle(self) -> None:
        """Keep the terminal at a line speed Home Assistant will change on opening.

        A pseudo-terminal drops parity from its settings. With glibc 2.42 or
        newer, ``tcsetattr`` then fails with EINVAL when nothing else changes:
        reopening the port at the speed it was last opened with (the entry
        after the config flow's probe) would fail. Home Assistant does not
        read the speed back while the port is open, so it may change under it.
        """
        with contextlib.suppress(termios.error):
            attrs = termios.tcgetattr(self._slave)
            if attrs[4] != termios.B38400 or attrs[5] != termios.B38400:
                attrs[4] = attrs[5] = termios.B38400
                termios.tcsetattr(self._slave, termios.TCSANOW, attrs)

    def _discard_echo(self) -> None:
        """Read whatever came back (nothing, in raw mode) so the master never fills."""
        with contextlib.suppress(BlockingIOError, OSError):
            while os.read(self._master, 4096):
                pass

    def check(self) -> None:
        """Raise when the meter has stopped by an error."""
        if self.error is not None:
            raise DemoError(f"the simulated meter stopped: {self.error!r}")

    def stop(self) -> None:
        """Stop sending and close the terminal."""
        self._stop.set()
        if self.is_alive():
            self.join(timeout=5)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)


# Home Assistant --------------------------------------------------------------


def ensure_frontend_and_friends() -> None:
    """Install the requirements of the integrations Home Assistant always loads."""
    spec = importlib.util.find_spec("homeassistant")
    if spec is None or spec.origin is None:
        raise DemoError(f"Home Assistant is not installed in {sys.prefix}")
    components = Path(spec.origin).parent / "components"
    wanted: list[str] = []
    for domain in BUILT_IN:
        manifest = json.loads((components / domain / "manifest.json").read_text())
        wanted.extend(manifest.get("requirements", ()))
    missing = [req for req in dict.fromkeys(wanted) if not _installed(req)]
    if not missing:
        return
    names = ", ".join(requirement.partition("==")[0] for requirement in missing)
    print(
        f"Installing what Home Assistant loads at start (once, into "
        f"{Path(sys.prefix).name}): {names}",
        flush=True,
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *missing,
        ],
        check=True,
    )


def _installed(requirement: str) -> bool:
    name, _, version = requirement.partition("==")
    try:
        found = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return not version or found == version


def free_port(port: int) -> int:
    """Return ``port`` if nothing listens on it (0: any free port); fail early if taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as err:
            raise DemoError(
                f"{HOST}:{port} is in use ({os.strerror(err.errno or errno.EADDRINUSE)}); "
                "stop what runs there or choose another port with --port"
            ) from err
        return int(sock.getsockname()[1])


def use_dir(path: Path) -> None:
    """Keep configuration and log in ``path``, so two demos do not share one."""
    global DEMO_DIR, CONFIG_DIR, LOG_FILE  # noqa: PLW0603 - set once, from the command line
    DEMO_DIR = path.resolve()
    CONFIG_DIR = DEMO_DIR / "config"
    LOG_FILE = DEMO_DIR / "home-assistant.log"


def _shown(path: Path) -> Path:
    """Return ``path`` relative to the checkout when it is inside it."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def _http_is_stored() -> bool:
    """Return whether Home Assistant keeps its HTTP settings in storage (2026.10+).

    Such a Home Assistant takes ``http:`` from YAML once, as a trial that the
    user must confirm in the UI within five minutes; unconfirmed, it restarts
    on the default port 8123 on all interfaces. The demo writes the stored
    settings as confirmed instead.
    """
    spec = importlib.util.find_spec("homeassistant")
    if spec is None or spec.origin is None:
        return False
    module = Path(spec.origin).parent / "components" / "http" / "config.py"
    return module.is_file() and "yaml_migration_done" in module.read_text()


def write_config(port: int) -> None:
    """Create a fresh configuration directory with HAN Port linked in."""
    shutil.rmtree(CONFIG_DIR, ignore_errors=True)
    (CONFIG_DIR / "custom_components").mkdir(parents=True)
    stored = _http_is_stored()
    (CONFIG_DIR / "configuration.yaml").write_text(
        CONFIGURATION.format(
            http="" if stored else HTTP_YAML.format(host=HOST, port=port)
        )
    )
    if stored:
        (CONFIG_DIR / ".storage").mkdir()
        settings = {
            "server_host": [HOST],
            "server_port": port,
            "cors_allowed_origins": ["https://cast.home-assistant.io"],
            "login_attempts_threshold": -1,
            "ip_ban_enabled": True,
            "ssl_profile": "modern",
            "use_x_frame_options": True,
            "created_at": datetime.now(UTC).isoformat(),
            "error": None,
            "error_message": None,
        }
        store = {
            "version": 2,
            "minor_version": 2,
            "key": "http",
            "data": {"stable": settings, "pending": None, "yaml_migration_done": True},
        }
        (CONFIG_DIR / ".storage" / "http").write_text(json.dumps(store, indent=2))
    (CONFIG_DIR / "custom_components" / "han_port").symlink_to(
        ROOT / "custom_components" / "han_port", target_is_directory=True
    )


def _die_with_parent() -> None:
    """Have Linux stop Home Assistant if the demo is killed outright."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes  # noqa: PLC0415

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def start_home_assistant(log: Any) -> subprocess.Popen[bytes]:
    """Start Home Assistant in its own session (Ctrl+C reaches the demo only)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "homeassistant",
            "--config",
            str(CONFIG_DIR),
            "--skip-pip",
            "--log-no-color",
        ],
        cwd=DEMO_DIR,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
    )


def stop_home_assistant(process: subprocess.Popen[bytes]) -> None:
    """Stop Home Assistant the way a service manager does: SIGTERM, then SIGKILL."""
    if process.poll() is not None:
        return
    print("Stopping Home Assistant ...", flush=True)
    began = time.monotonic()
    process.terminate()
    try:
        code = process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        print("Home Assistant did not stop in 60 s; killing it", file=sys.stderr)
        process.kill()
        code = process.wait()
    print(
        f"Home Assistant stopped in {time.monotonic() - began:.1f} s (exit code {code})",
        flush=True,
    )


def log_tail(lines: int = 40) -> str:
    """Return the end of Home Assistant's log."""
    try:
        text = LOG_FILE.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


class Api:
    """Home Assistant's REST API with the demo user's tokens."""

    def __init__(self, base: str, process: subprocess.Popen[bytes]) -> None:
        """Talk to ``base``; fail fast when ``process`` has exited."""
        self.base = base
        self.client_id = f"{base}/"
        self.process = process
        self.access_token = ""
        self.refresh_token = ""
        self.expires = 0.0

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        form: dict[str, str] | None = None,
        auth: bool = True,
        timeout: float = 30,
    ) -> Any:
        """Send one request and return the decoded JSON answer."""
        if auth and self.refresh_token and time.monotonic() > self.expires - 60:
            self._refresh()
        headers = {}
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if auth:
            headers["Authorization"] = f"Bearer {self.access_token}"
        request = urllib.request.Request(
            self.base + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - our own loopback URL
                text = response.read().decode()
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")
            raise DemoError(f"{method} {path}: HTTP {err.code} {detail}") from err
        try:
            return json.loads(text) if text else None
        except json.JSONDecodeError:
            return text

    def _tokens(self, form: dict[str, str]) -> None:
        tokens = self.call("POST", "/auth/token", form=form, auth=False)
        self.access_token = tokens["access_token"]
        self.refresh_token = tokens.get("refresh_token", self.refresh_token)
        self.expires = time.monotonic() + float(tokens.get("expires_in", 1800))

    def _refresh(self) -> None:
        self._tokens(
            {
                "grant_type": "refresh_token",
                "refresh_token": self.refresh_token,
                "client_id": self.client_id,
            }
        )

    def alive(self) -> None:
        """Raise when Home Assistant has exited."""
        if (code := self.process.poll()) is not None:
            raise DemoError(f"Home Assistant exited with code {code}")

    def wait_for_http(self, timeout: float) -> None:
        """Wait until the HTTP server answers the onboarding status."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.alive()
            with contextlib.suppress(OSError, DemoError):
                self.call("GET", "/api/onboarding", auth=False, timeout=5)
                return
            time.sleep(0.25)
        raise DemoError(f"Home Assistant's HTTP server did not answer in {timeout:g} s")

    def onboard(self, name: str) -> None:
        """Create the owner and finish onboarding the way the frontend does."""
        answer = self.call(
            "POST",
            "/api/onboarding/users",
            {
                "client_id": self.client_id,
                "name": name,
                "username": USERNAME,
                "password": PASSWORD,
                "language": "en",
            },
            auth=False,
        )
        self._tokens(
            {
                "grant_type": "authorization_code",
                "code": answer["auth_code"],
                "client_id": self.client_id,
            }
        )
        self.call("POST", "/api/onboarding/core_config", {})
        self.call("POST", "/api/onboarding/analytics", {})
        self.call(
            "POST",
            "/api/onboarding/integration",
            {
                "client_id": self.client_id,
                "redirect_uri": f"{self.base}/?auth_callback=1",
            },
        )

    def wait_until_running(self, timeout: float) -> None:
        """Wait until Home Assistant has finished starting."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.alive()
            if self.call("GET", "/api/config").get("state") == "RUNNING":
                return
            time.sleep(0.5)
        raise DemoError(f"Home Assistant did not finish starting in {timeout:g} s")

    def add_meter(self, port: str, timeout: float) -> dict[str, Any]:
        """Run HAN Port's config flow on ``port``, as a user would in the UI."""
        flows = "/api/config/config_entries/flow"
        result = self.call(
            "POST", flows, {"handler": "han_port", "show_advanced_options": False}
        )
        if result.get("type") != "form" or result.get("step_id") != "user":
            raise DemoError(f"the config flow did not ask for the port: {result}")
        flow = f"{flows}/{result['flow_id']}"
        result = self.call("POST", flow, {"port": port})
        deadline = time.monotonic() + timeout
        announced = False
        while result.get("type") == "progress":
            if not announced:
                print(f"  the config flow listens on {port} ...", flush=True)
                announced = True
            if time.monotonic() > deadline:
                raise DemoError(f"the config flow still listened after {timeout:g} s")
            self.alive()
            time.sleep(0.5)
            result = self.call("GET", flow)
        if result.get("type") != "form" or result.get("step_id") != "found":
            raise DemoError(
                "the config flow did not find the meter: "
                f"{result.get('type')} {result.get('step_id') or result.get('reason')}"
            )
        placeholders = result.get("description_placeholders") or {}
        found = {key: placeholders.get(key, "-") for key in FOUND_KEYS}
        print(
            "  found: {vendor} {model}, meter {meter_id}, {format}, {line}".format_map(
                found
            ),
            flush=True,
        )
        result = self.call("POST", flow, {})
        if result.get("type") != "create_entry":
            raise DemoError(f"the config flow did not create the entry: {result}")
        entry: dict[str, Any] = result["result"]
        return entry

    def remove_failed_entries(self) -> list[str]:
        """Delete the entries onboarding added that cannot load without their packages."""
        removed = []
        for entry in self.call("GET", "/api/config/config_entries/entry"):
            if entry.get("domain") in ONBOARDING_EXTRAS and entry.get("state") in {
                "setup_error",
                "setup_retry",
                "not_loaded",
            }:
                self.call(
                    "DELETE", f"/api/config/config_entries/entry/{entry['entry_id']}"
                )
                removed.append(str(entry.get("title") or entry["domain"]))
        return removed

    def han_states(self) -> list[dict[str, Any]]:
        """Return the states of HAN Port's entities, sorted by entity id."""
        ids = self.call(
            "POST",
            "/api/template",
            {"template": "{{ integration_entities('han_port') | list | tojson }}"},
        )
        wanted = set(json.loads(ids) if isinstance(ids, str) else ids)
        states = self.call("GET", "/api/states")
        return sorted(
            (state for state in states if state["entity_id"] in wanted),
            key=lambda state: state["entity_id"],
        )


def _numeric(state: dict[str, Any]) -> bool:
    try:
        float(state["state"])
    except ValueError:
        return False
    return True


def _named(states: Sequence[dict[str, Any]], suffix: str) -> dict[str, Any] | None:
    """Return the entity whose friendly name ends with ``suffix`` (case-insensitive)."""
    for state in states:
        name = str(state["attributes"].get("friendly_name", ""))
        if name.lower().endswith(suffix.lower()):
            return state
    return None


def _power_and_voltage(
    states: Sequence[dict[str, Any]],
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    power = _named(states, " power import")
    voltage = _named(states, " voltage l1") or _named(states, " voltage")
    return (
        power if power is not None and _numeric(power) else None,
        voltage if voltage is not None and _numeric(voltage) else None,
    )


def wait_for_values(
    api: Api, meter: PtyMeter, timeout: float, first: Callable[[str], None]
) -> list[dict[str, Any]]:
    """Wait until the meter's power import (List 1) and voltage (List 2) are live.

    ``first`` is told the first power import reading as soon as it arrives.
    """
    deadline = time.monotonic() + timeout
    told = False
    while True:
        api.alive()
        meter.check()
        states = api.han_states()
        power, voltage = _power_and_voltage(states)
        if power is not None and not told:
            unit = power["attributes"].get("unit_of_measurement") or ""
            first(f"{power['entity_id']} = {power['state']} {unit}".rstrip())
            told = True
        if power is not None and voltage is not None:
            return states
        if time.monotonic() > deadline:
            shown = ", ".join(f"{s['entity_id']}={s['state']}" for s in states)
            raise DemoError(
                f"no live power import and voltage after {timeout:g} s "
                f"(entities: {shown or 'none'})"
            )
        time.sleep(0.5)


def print_states(states: Sequence[dict[str, Any]]) -> None:
    """Print entity id, state and unit, one per line."""
    width = max((len(state["entity_id"]) for state in states), default=0)
    for state in states:
        unit = state["attributes"].get("unit_of_measurement") or ""
        print(f"  {state['entity_id']:<{width}}  {state['state']} {unit}".rstrip())


def _status_line(states: Sequence[dict[str, Any]]) -> str:
    cells = [datetime.now().astimezone().strftime("%H:%M:%S")]
    for suffix, label in (
        (" power import", "power"),
        (" voltage l1", "U1"),
        (" current l1", "I1"),
        (" energy import", "energy import"),
        (" energy this hour", "this hour"),
        (" energy last hour", "last hour"),
    ):
        state = _named(states, suffix)
        if state is not None:
            unit = state["attributes"].get("unit_of_measurement") or ""
            cells.append(f"{label} {state['state']} {unit}".rstrip())
    return "  ".join(cells)


@contextlib.contextmanager
def _terminating_signals() -> Iterator[None]:
    """Have SIGINT (also when started in the background), SIGTERM and SIGHUP stop the demo."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = {
        signum: signal.signal(signum, interrupt)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


READY = "demo ready:"  # scripts/ui_test.py reads this line


def _wait_without_entry(
    api: Api, meter: PtyMeter, base: str, elapsed: Callable[[], str]
) -> int:
    """Keep Home Assistant and the meter running, HAN Port not added, until stopped.

    The browser test adds the meter through the UI's config flow; the one line
    starting with ``READY`` tells it where Home Assistant and the meter are.
    """
    # Onboarding's extras fail to load in the background; give them the time
    # to, so their entries are gone before anyone looks.
    time.sleep(2)
    api.remove_failed_entries()
    print(
        f"{elapsed()} Home Assistant is running; HAN Port is not added (--no-entry)\n"
        f"{READY} url={base} port={meter.path} user={USERNAME} password={PASSWORD}\n"
        f"\nHome Assistant: {base}\n"
        f"  user {USERNAME}, password {PASSWORD}\n"
        "  Settings > Devices & services > Add integration > HAN Port, port "
        f"{meter.path}\n"
        "Ctrl+C stops Home Assistant and the meter.\n",
        flush=True,
    )
    while True:
        time.sleep(1)
        api.alive()
        meter.check()


def run_home_assistant(args: argparse.Namespace) -> int:
    """Start Home Assistant with the meter and keep it running (or check it: --smoke)."""
    began = time.monotonic()

    def elapsed() -> str:
        return f"[{time.monotonic() - began:5.1f} s]"

    speed = FAST_SPEED if args.fast else 1.0
    port = free_port(args.port)
    ensure_frontend_and_friends()
    write_config(port)
    base = f"http://{HOST}:{port}"
    try:
        meter = PtyMeter(args.vendor, speed, seed=args.seed)
    except OSError as err:
        raise DemoError(f"cannot open a pseudo-terminal: {err}") from err
    with _terminating_signals(), LOG_FILE.open("wb") as log:
        process = start_home_assistant(log)
        api = Api(base, process)
        try:
            print(
                f"{elapsed()} Home Assistant starting on {base} "
                f"(config {_shown(CONFIG_DIR)}, log {_shown(LOG_FILE)})",
                flush=True,
            )
            meter.start()
            print(
                f"{elapsed()} simulated {args.vendor} meter on {meter.path}"
                + (f", {speed:g}x real time" if speed != 1 else ", real time"),
                flush=True,
            )
            api.wait_for_http(timeout=120)
            api.onboard("Demo")
            print(
                f"{elapsed()} onboarding done: {base}  user {USERNAME}, "
                f"password {PASSWORD}",
                flush=True,
            )
            api.wait_until_running(timeout=120)
            if args.no_entry:
                return _wait_without_entry(api, meter, base, elapsed)
            print(
                f"{elapsed()} Home Assistant is running; adding the meter", flush=True
            )
            entry = api.add_meter(meter.path, timeout=120)
            print(f"{elapsed()} entry {entry.get('title')!r} created", flush=True)
            api.remove_failed_entries()
            states = wait_for_values(
                api,
                meter,
                timeout=90,
                first=lambda reading: print(
                    f"{elapsed()} first live value: {reading}; waiting for List 2 "
                    "(voltages, currents; every 10 s of meter time)",
                    flush=True,
                ),
            )
            print(f"{elapsed()} live values from the meter:", flush=True)
            print_states(states)
            if args.smoke:
                print(
                    f"Smoke test passed in {time.monotonic() - began:.1f} s "
                    f"({meter.sent} pushes sent, {meter.dropped} dropped while the "
                    "port was closed)",
                    flush=True,
                )
                return 0
            print(
                f"\nHome Assistant: {base}\n"
                f"  user {USERNAME}, password {PASSWORD}\n"
                "  Settings > Devices & services > HAN Port shows the meter; the sensors "
                "are on its device page.\n"
                f"  Log: {LOG_FILE}\n"
                + (
                    "  --fast: the meter's clock starts a day behind the wall clock and "
                    "replays it in 24 minutes; hourly values land in yesterday's hours.\n"
                    if args.fast
                    else "  List 3 (the energy registers) arrives just after each full hour.\n"
                )
                + "Ctrl+C stops Home Assistant and the meter.\n",
                flush=True,
            )
            interval = 10.0 if args.fast else 30.0
            while True:
                time.sleep(interval)
                api.alive()
                meter.check()
                print(_status_line(api.han_states()), flush=True)
        except KeyboardInterrupt:
            print()
            if args.smoke:
                print("Smoke test interrupted", file=sys.stderr)
                return 130
            return 0
        except (DemoError, OSError) as err:
            print(f"\nerror: {err}", file=sys.stderr)
            print(f"--- end of {LOG_FILE}:\n{log_tail()}\n---", file=sys.stderr)
            return 1
        finally:
            # A second Ctrl+C while stopping would leave Home Assistant behind;
            # the handlers are restored when the signal context ends.
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(signum, signal.SIG_IGN)
            stop_home_assistant(process)
            meter.stop()


# The decoder alone -------------------------------------------------------------

COLUMNS = (
    (Quantity.ACTIVE_POWER_IMPORT, "P+ W", "{:>6}"),
    (Quantity.ACTIVE_POWER_EXPORT, "P- W", "{:>5}"),
    (Quantity.VOLTAGE_L1, "U1 V", "{:>6}"),
    (Quantity.CURRENT_L1, "I1 A", "{:>6}"),
    (Quantity.CURRENT_L2, "I2 A", "{:>6}"),
    (Quantity.CURRENT_L3, "I3 A", "{:>6}"),
    (Quantity.ACTIVE_ENERGY_IMPORT, "A+ kWh", "{:>12}"),
)


def _row(telegram: Telegram) -> str:
    cells = [f"List {telegram.list_type}"]
    for quantity, _title, fmt in COLUMNS:
        value = telegram.get(quantity)
        if quantity is Quantity.ACTIVE_ENERGY_IMPORT and isinstance(
            value, (int, float)
        ):
            value = f"{value / 1000:.3f}"
        cells.append(fmt.format("" if value is None else str(value)))
    clock = (
        telegram.meter_time.isoformat(timespec="seconds") if telegram.meter_time else ""
    )
    return "  ".join(cells) + f"  {clock}"


def run_decoder(args: argparse.Namespace) -> int:
    """Feed a simulated meter's bytes to the stream decoder and print each telegram.

    The bytes reach the decoder in small, uneven reads as from a 2400 baud
    serial port. It starts shortly before a full hour, so a List 3 with the
    meter's energy registers appears within a minute at the default speed.
    """
    speed = args.speed if args.speed is not None else 10.0
    now = datetime.now(UTC).replace(microsecond=0)
    start = now.replace(minute=58, second=30) if now.minute < 58 else now
    simulator = MeterSimulator(args.vendor, start=start, seed=int(now.timestamp()))
    decoder = StreamDecoder()
    rng = random.Random(0)
    print(
        f"HAN Port decoder demo: simulated {args.vendor} meter at {speed:g}x real time, "
        "Ctrl+C stops"
    )
    print(
        "        "
        + "  ".join(fmt.format(title) for _q, title, fmt in COLUMNS)
        + "  meter clock"
    )
    began = time.monotonic()
    try:
        for frame in simulator.frames_until(start + timedelta(days=365)):
            due = (frame.time - start).total_seconds() / speed
            if args.duration and due > args.duration:
                break
            time.sleep(max(0.0, due - (time.monotonic() - began)))
            data = frame.data
            position = 0
            while position < len(data):
                size = rng.randint(1, 48)
                for telegram in decoder.feed(data[position : position + size]):
                    print(_row(telegram), flush=True)
                position += size
    except KeyboardInterrupt:
        print()  # Ctrl+C ends the demo; the summary follows
    stats = decoder.stats
    print(f"{stats.telegrams} telegrams, {stats.checksum_errors} checksum errors")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the Home Assistant demo, its smoke check, or the decoder demo."""
    parser = argparse.ArgumentParser(
        prog="scripts/demo",
        description=(__doc__ or "").splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=USAGE,
    )
    parser.add_argument("--vendor", choices=SUPPORTED_VENDORS, default="aidon")
    parser.add_argument(
        "--fast", action="store_true", help="simulated time runs 60x (an hour a minute)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8123,
        help="Home Assistant's HTTP port (8123; 0: any free port)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="headless check: wait for live values over the REST API, then stop",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="the simulated household's seed"
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=DEMO_DIR,
        help="where Home Assistant's configuration and log go (.demo; recreated)",
    )
    parser.add_argument(
        "--no-entry",
        action="store_true",
        help="do not add HAN Port: the meter waits to be added in the UI",
    )
    decoder = parser.add_argument_group("the decoder alone (--decoder)")
    decoder.add_argument(
        "--decoder",
        action="store_true",
        help="print decoded telegrams of a simulated meter; no Home Assistant",
    )
    decoder.add_argument(
        "--speed", type=float, default=None, help="simulated seconds per second (10)"
    )
    decoder.add_argument(
        "--duration", type=float, default=0, help="stop after S seconds (0: never)"
    )
    args = parser.parse_args(argv)
    if args.decoder:
        if args.fast or args.smoke or args.no_entry:
            parser.error(
                "--fast, --smoke and --no-entry are for the Home Assistant demo"
            )
        return run_decoder(args)
    if args.speed is not None or args.duration:
        parser.error("--speed and --duration go with --decoder (use --fast)")
    if args.smoke and args.no_entry:
        parser.error("--smoke checks the entry the demo adds; leave out --no-entry")
    if args.seed is None:
        args.seed = int(time.time())
    use_dir(args.dir)
    DEMO_DIR.mkdir(parents=True, exist_ok=True)
    try:
        return run_home_assistant(args)
    except (DemoError, subprocess.CalledProcessError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
