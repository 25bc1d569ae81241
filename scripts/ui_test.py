"""HAN Port in a real browser: the UI a user sees, end to end, with screenshots.

``scripts/demo --no-entry`` starts Home Assistant (onboarded) and a simulated
meter on a pseudo-terminal, without adding HAN Port. Chromium, driven by
Playwright, then does what a user does: logs in, adds HAN Port through the
config flow on the meter's port, watches the power change on the device page,
saves a tariff in the options, and sets up the Energy dashboard with the
hour-correct statistics and the cost statistic, which Home Assistant's own
validation must accept. Each step saves a screenshot; the docs' images are
these screenshots (``scripts/screenshots`` writes them into docs/images/).

This runs in .venv-ui (requirements_ui.txt); the scripts' type check runs in
.venv, which has no Playwright, hence the import's ignore comment.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence
import contextlib
from dataclasses import dataclass
from pathlib import Path
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, cast

from PIL import Image
from playwright.sync_api import (  # type: ignore[import-not-found, unused-ignore]
    BrowserContext,
    Error as PlaywrightError,
    Locator,
    Page,
    ViewportSize,
    sync_playwright,
)
import yaml  # type: ignore[import-untyped, unused-ignore]

ROOT = Path(__file__).resolve().parents[1]
WORK_DIR = ROOT / ".ui-test"
CHROMIUM = Path("/usr/bin/chromium")
# Headless on a closed network: without the background-networking flags
# Chromium keeps trying Google's services and its connections are refused.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
VIEWPORT = ViewportSize(width=1280, height=800)
TALL = ViewportSize(width=1280, height=1240)  # forms taller than their dialog
TALLER = ViewportSize(width=1280, height=1700)  # all of a device's sensors
READY = "demo ready:"  # the line scripts/demo prints in --no-entry mode
DASHBOARD = ROOT / "docs" / "dashboard.yaml"
# What docs/dashboard.yaml names; replaced by what the running meter has.
DASHBOARD_PREFIX = "sensor.aidon_6540_"
DASHBOARD_METER = "han_port:7359990000000017_"
# Waits are generous: a slow 2-core VM runs Home Assistant and Chromium at once.
SHORT = 30_000  # ms
LONG = 120_000  # ms
PNG_COLOURS = 256


class UiTestError(Exception):
    """A step did not see what it should; the message says what."""


# The demo ---------------------------------------------------------------------


@dataclass
class Demo:
    """``scripts/demo --no-entry`` in the background, its output echoed."""

    process: subprocess.Popen[str]
    url: str = ""
    port: str = ""

    @classmethod
    def start(cls, demo_dir: Path, http_port: int) -> Demo:
        """Start the demo and return once it says where Home Assistant is."""
        process = subprocess.Popen(
            [
                str(ROOT / "scripts" / "demo"),
                "--no-entry",
                "--fast",
                "--port",
                str(http_port),
                "--dir",
                str(demo_dir),
            ],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        demo = cls(process)
        ready = threading.Event()
        threading.Thread(
            target=demo._echo, args=(ready,), name="demo-output", daemon=True
        ).start()
        # The first run installs the frontend into .venv; then it takes seconds.
        try:
            demo._wait_ready(ready, timeout=600)
        except BaseException:
            demo.stop()
            raise
        return demo

    def _wait_ready(self, ready: threading.Event, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not ready.wait(1):
            if self.process.poll() is not None:
                raise UiTestError(
                    f"scripts/demo exited with code {self.process.returncode}"
                )
            if time.monotonic() > deadline:
                raise UiTestError(f"scripts/demo did not get ready in {timeout:g} s")

    def _echo(self, ready: threading.Event) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            print(f"  demo | {line.rstrip()}", flush=True)
            if line.startswith(READY):
                fields = dict(part.split("=", 1) for part in line[len(READY) :].split())
                self.url, self.port = fields["url"], fields["port"]
                ready.set()

    def stop(self) -> None:
        """Stop the demo (which stops Home Assistant and the meter) and wait."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            print("scripts/demo did not stop in 90 s; killing it", file=sys.stderr)
            self.process.kill()
            self.process.wait()


# The browser --------------------------------------------------------------------


class Ui:
    """One browser page on Home Assistant, with screenshots and failure captures."""

    def __init__(self, page: Page, base: str, shots: Path) -> None:
        """Drive ``page`` against Home Assistant at ``base``; images go to ``shots``."""
        self.page = page
        self.base = base
        self.shots = shots
        self.saved: list[Path] = []

    def goto(self, path: str) -> None:
        """Open a frontend path and wait until the frontend is connected."""
        self.page.goto(self.base + path)
        self.wait_connected()

    def wait_connected(self) -> None:
        """Wait until the frontend holds a live websocket connection."""
        self.page.wait_for_function(
            "() => document.querySelector('home-assistant')?.hass?.connected === true",
            timeout=LONG,
        )

    def ws(self, message: dict[str, Any]) -> Any:
        """Send a websocket command over the frontend's own connection."""
        return self.page.evaluate(
            "(msg) => document.querySelector('home-assistant').hass.callWS(msg)",
            message,
        )

    def deep_text(self, selector: str) -> str:
        """Return the rendered text of the first match, shadow roots included.

        ``inner_text`` stops at a shadow root, and Home Assistant's frontend
        renders nearly everything inside one.
        """
        return cast(
            str,
            self.page.evaluate(
                r"""(selector) => {
                const find = (root) => {
                  const hit = root.querySelector(selector);
                  if (hit) return hit;
                  for (const el of root.querySelectorAll('*')) {
                    if (el.shadowRoot) {
                      const inner = find(el.shadowRoot);
                      if (inner) return inner;
                    }
                  }
                  return null;
                };
                const text = (node) => {
                  if (node.nodeType === Node.TEXT_NODE) return node.textContent;
                  if (node.nodeType !== Node.ELEMENT_NODE) return '';
                  if (['STYLE', 'SCRIPT'].includes(node.tagName)) return '';
                  let out = '';
                  if (node.shadowRoot) {
                    out += [...node.shadowRoot.childNodes].map(text).join('');
                  }
                  out += [...node.childNodes].map(text).join('');
                  const block = getComputedStyle(node).display;
                  return block === 'inline' ? out : `\n${out}\n`;
                };
                const hit = find(document);
                return hit ? text(hit).replace(/[ \t]+/g, ' ').replace(/\s*\n\s*/g, '\n') : '';
              }""",
                selector,
            ),
        )

    def state(self, entity_id: str) -> dict[str, Any] | None:
        """Return an entity's state as the frontend has it."""
        found = self.page.evaluate(
            "(id) => document.querySelector('home-assistant').hass.states[id] ?? null",
            entity_id,
        )
        return cast(dict[str, Any] | None, found)

    def shot(self, name: str) -> Path:
        """Save the page as a small PNG (a palette of 256 colours)."""
        path = self.shots / name
        self.page.wait_for_timeout(600)  # let the dialog's animation settle
        self.page.screenshot(path=str(path), animations="disabled")
        with Image.open(path) as image:
            small = image.convert("RGB").quantize(PNG_COLOURS)
            small.save(path, optimize=True)
        self.saved.append(path)
        print(f"    screenshot {path} ({path.stat().st_size // 1024} KiB)", flush=True)
        return path

    def capture_failure(self, step: str) -> None:
        """Save what the page showed when ``step`` failed, and say where."""
        stem = self.shots / f"failed-{re.sub(r'[^a-z0-9]+', '-', step.lower())}"
        with contextlib.suppress(PlaywrightError):
            self.page.screenshot(path=f"{stem}.png")
        with contextlib.suppress(PlaywrightError):
            Path(f"{stem}.html").write_text(_page_html(self.page))
        print(
            f"  step {step!r} failed; the page is in {stem}.png and {stem}.html",
            file=sys.stderr,
            flush=True,
        )


def _page_html(page: Page) -> str:
    """Return the page's HTML with the shadow roots inlined (as templates)."""
    return cast(
        str,
        page.evaluate(
            """() => {
            const dump = (node) => {
              if (node.nodeType === Node.TEXT_NODE) return node.textContent;
              if (node.nodeType !== Node.ELEMENT_NODE) return '';
              const attrs = [...node.attributes]
                .map((a) => ` ${a.name}="${a.value.replaceAll('"', '&quot;')}"`).join('');
              const tag = node.localName;
              let inner = '';
              if (node.shadowRoot) {
                inner += '<template shadowrootmode="open">'
                  + [...node.shadowRoot.childNodes].map(dump).join('') + '</template>';
              }
              if (tag !== 'style' && tag !== 'script') {
                inner += [...node.childNodes].map(dump).join('');
              }
              return `<${tag}${attrs}>${inner}</${tag}>`;
            };
            return '<!DOCTYPE html>' + dump(document.documentElement);
          }"""
        ),
    )


def _until(
    what: str, check: Callable[[], Any], timeout: float, interval: float = 1.0
) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        if result := check():
            return result
        if time.monotonic() > deadline:
            raise UiTestError(f"{what} (waited {timeout:g} s)")
        time.sleep(interval)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except TypeError, ValueError:
        return None


# The steps ----------------------------------------------------------------------


@dataclass
class Found:
    """What the steps learn about the meter as they go."""

    entry_id: str = ""
    device_id: str = ""
    prefix: str = ""  # entity ids start with sensor.<prefix>_
    meter_id: str = ""

    def entity(self, key: str) -> str:
        """Return the entity id of one of the meter's sensors."""
        return f"sensor.{self.prefix}_{key}"

    def statistic(self, key: str) -> str:
        """Return the id of one of the meter's external statistics."""
        return f"han_port:{self.meter_id}_{key}"


def step_login(ui: Ui) -> None:
    """Log in on the login page as the demo user; the frontend connects."""
    ui.page.goto(ui.base)
    ui.page.get_by_role("textbox", name="Username").fill("demo")
    ui.page.get_by_role("textbox", name="Password").fill("demo-han-port")
    ui.page.get_by_role("button", name="Log in").click()
    ui.wait_connected()


def _dialog(ui: Ui) -> Locator:
    return ui.page.locator("dialog-data-entry-flow")


# The dialog subscribes to the flow's progress event only once it has drawn
# the progress step, and does not ask again after subscribing: an event sent
# in between is lost and the spinner stays. The demo's meter (60x, List 2
# every 0.17 s) can be identified that fast; the dialog is then given the step
# the event would have fetched.
KICK_PROGRESS = """async (dialog) => {
  const step = dialog._step;
  if (!step || step.type !== 'progress') return null;
  const hass = document.querySelector('home-assistant').hass;
  const now = await hass.callApi('GET', `config/config_entries/flow/${step.flow_id}`);
  if (now.type === 'progress') return null;
  dialog.dispatchEvent(new CustomEvent('flow-update', {detail: {step: now}}));
  return now.step_id ?? now.type;
}"""


def _wait_past_progress(ui: Ui, dialog: Locator, title: str) -> None:
    """Wait for the step after the listening progress, titled ``title``."""
    deadline = time.monotonic() + LONG / 1000
    target = dialog.get_by_text(title, exact=True)
    while True:
        with contextlib.suppress(PlaywrightError):
            target.wait_for(timeout=15_000)
            return
        if time.monotonic() > deadline:
            raise UiTestError(f"the config flow did not reach {title!r}")
        if kicked := dialog.evaluate(KICK_PROGRESS):
            print(
                f"    warning: the dialog missed the end of the progress step "
                f"(a frontend race); showing {kicked!r}",
                flush=True,
            )


def step_add_integration(ui: Ui, port: str, found: Found) -> None:
    """Add integration → HAN Port → the meter's port → found → entry created."""
    ui.goto("/config/integrations/dashboard")
    ui.page.get_by_role("button", name="Add integration").click()
    ui.page.get_by_placeholder("Search for a brand name").fill("HAN Port")
    ui.page.get_by_text("HAN Port", exact=True).first.click()
    dialog = _dialog(ui)
    dialog.get_by_text("Connect to the meter").wait_for(timeout=LONG)
    _field(ui, dialog, "Serial port or URL").fill(port)
    dialog.get_by_text("Connect to the meter").click()  # closes a suggestion list
    ui.shot("config-flow-port.png")
    dialog.get_by_role("button", name="Submit").click()
    _wait_past_progress(ui, dialog, "Meter found")
    # The title shows before the description: the frontend renders its
    # markdown a moment later, longer on a busy machine.
    text = ""

    def meter_number() -> re.Match[str] | None:
        nonlocal text
        text = ui.deep_text("dialog-data-entry-flow")
        return re.search(r"Meter number:\s*(\S+)", text)

    try:
        match = _until("no meter number", meter_number, SHORT / 1000, 0.2)
    except UiTestError as err:
        raise UiTestError(f"the found step names no meter number: {text!r}") from err
    found.meter_id = re.sub(r"[^a-z0-9]+", "_", match.group(1).lower()).strip("_")
    ui.shot("config-flow-found.png")
    dialog.get_by_role("button", name="Submit").click()
    # The last dialog of a flow offers an area for the new device.
    finish = dialog.get_by_role("button", name=re.compile(r"^(Finish|Skip.*)$"))
    finish.first.click(timeout=LONG)
    entries = ui.ws({"type": "config_entries/get", "domain": "han_port"})
    if len(entries) != 1 or entries[0]["state"] != "loaded":
        raise UiTestError(f"HAN Port's entry is not loaded: {entries}")
    found.entry_id = entries[0]["entry_id"]
    devices = ui.ws({"type": "config/device_registry/list"})
    ours = [d for d in devices if found.entry_id in d["config_entries"]]
    if len(ours) != 1:
        raise UiTestError(f"expected one HAN Port device, found {ours}")
    found.device_id = ours[0]["id"]
    print(f"    entry {entries[0]['title']!r}, meter {found.meter_id}", flush=True)


def _entities(ui: Ui, found: Found) -> list[str]:
    registry = ui.ws({"type": "config/entity_registry/list"})
    return sorted(
        e["entity_id"] for e in registry if e.get("config_entry_id") == found.entry_id
    )


def step_device_page(ui: Ui, found: Found) -> None:
    """See the power import on the device page, and see it change."""
    power = _until(
        "no power import sensor on the meter",
        lambda: next(
            (e for e in _entities(ui, found) if e.endswith("_power_import")), None
        ),
        timeout=60,
    )
    found.prefix = power.removeprefix("sensor.").removesuffix("_power_import")
    ui.goto(f"/config/devices/device/{found.device_id}")

    def shown() -> str:
        text = ui.deep_text("ha-device-entities-card")
        match = re.search(r"(?m)^Power import\s*\n?\s*([-\d.,\s]+)\s*(k?W)\b", text)
        return match.group(1).strip() if match else ""

    first = _until("the device page shows no power import value", shown, timeout=90)
    print(f"    power import on the device page: {first} W", flush=True)
    ui.shot("device-page.png")
    second = _until(
        f"the power import on the device page stayed at {first} W",
        lambda: (value := shown()) and value != first and value,
        timeout=90,
    )
    print(f"    ... then {second} W", flush=True)


def _open_options(ui: Ui, found: Found) -> Locator:
    ui.goto("/config/integrations/integration/han_port")
    ui.page.get_by_role("button", name="Configure").first.click()
    return ui.page.locator("dialog-data-entry-flow")


def _field(ui: Ui, dialog: Locator, label: str) -> Locator:
    """Return a form's input by its label (slotted, so not an accessible name)."""
    named = re.compile(rf"^\s*{re.escape(label)}\*?\s*$")
    return (
        dialog.locator("ha-input")
        .filter(has=ui.page.get_by_text(named))
        .locator("input")
        .first
    )


def step_tariff(ui: Ui, found: Found) -> None:
    """Options → Tariff: BKK, no state scheme, a fixed price; saved and priced."""
    dialog = _open_options(ui, found)
    dialog.get_by_text("Tariff: grid rent, taxes and electricity price").click()
    dialog.get_by_text("HAN Port prices every hour").wait_for(timeout=LONG)
    dialog.get_by_label("Grid company").first.click()
    ui.page.get_by_text("BKK AS", exact=True).first.click()
    dialog.get_by_role("radio", name="None").click()
    _field(ui, dialog, "Fixed electricity price").fill("1.25")
    _field(ui, dialog, "Markup").fill("0.05")
    # The form is taller than the dialog: a taller window shows all of it.
    ui.page.set_viewport_size(TALL)
    dialog.get_by_text("HAN Port prices every hour").scroll_into_view_if_needed()
    ui.shot("tariff-options.png")
    ui.page.set_viewport_size(VIEWPORT)
    dialog.get_by_role("button", name="Submit").click()
    dialog.wait_for(state="hidden", timeout=LONG)
    price = found.entity("price_now")
    value = _until(
        f"{price} has no price after saving the tariff",
        lambda: _number(str((ui.state(price) or {}).get("state"))),
        timeout=LONG / 1000,
    )
    print(f"    {price} = {value} NOK/kWh", flush=True)


def step_tariff_sensors(ui: Ui, found: Found) -> None:
    """Show the tariff sensors on the device page, with values."""
    ui.goto(f"/config/devices/device/{found.device_id}")
    card = ui.page.locator("ha-device-entities-card").first
    card.get_by_text("Price now").first.wait_for(timeout=LONG)
    # All of the device's sensors, the tariff's among them, in one image.
    ui.page.set_viewport_size(TALLER)
    card.get_by_text("Cost this month").first.wait_for(timeout=LONG)
    ui.shot("tariff-sensors.png")
    ui.page.set_viewport_size(VIEWPORT)


FOCUS_IN_INPUT = """() => {
  let active = document.activeElement;
  while (active?.shadowRoot?.activeElement) active = active.shadowRoot.activeElement;
  return active?.tagName === 'INPUT';
}"""


def _pick_statistic(ui: Ui, picker: Locator, statistic: str, name: str) -> None:
    """Open a statistic picker, search for ``statistic`` and take HAN Port's one."""
    picker.click()
    # Typed into the page, letters are shortcuts (a: Assist, e: entity search):
    # type only once the picker's search field has the focus.
    ui.page.wait_for_function(FOCUS_IN_INPUT, timeout=SHORT)
    ui.page.keyboard.type(statistic)
    ui.page.locator("ha-combo-box-item:visible").filter(has_text=name).filter(
        has_text="HAN Port"
    ).first.click(timeout=LONG)


def step_energy(ui: Ui, found: Found) -> None:
    """Energy config: grid consumption from the statistic, cost from its statistic."""
    energy, cost = found.statistic("energy_import"), found.statistic("energy_cost")

    def listed() -> bool:
        ids = {
            s["statistic_id"]
            for s in ui.ws(
                {"type": "recorder/list_statistic_ids", "statistic_type": "sum"}
            )
        }
        return energy in ids and cost in ids

    # --fast: an hour of meter time is a minute; the first hourly register
    # is the reference, the second books an hour, priced with the tariff.
    _until(f"{energy} and {cost} were not recorded", listed, timeout=300, interval=3)
    ui.goto("/config/energy")
    # The dialog is taller than the window: a taller one shows all of it.
    ui.page.set_viewport_size(TALL)
    ui.page.get_by_role("button", name="Add grid connection").click(timeout=LONG)
    dialog = ui.page.locator("ha-dialog").filter(has_text="Configure grid connection")
    _pick_statistic(
        ui, dialog.get_by_text("Select a statistic").first, energy, "energy import"
    )
    dialog.get_by_text("Use an entity tracking the total costs").click()
    dialog.get_by_text("Entity with the total costs").wait_for(timeout=SHORT)
    _pick_statistic(
        ui, dialog.get_by_text("Select a statistic").last, cost, "energy cost"
    )
    ui.shot("energy-config.png")
    dialog.get_by_role("button", name="Save").click()
    dialog.wait_for(state="hidden", timeout=LONG)
    ui.page.set_viewport_size(VIEWPORT)
    prefs = ui.ws({"type": "energy/get_prefs"})
    grid = [s for s in prefs["energy_sources"] if s["type"] == "grid"]
    flows = [f for s in grid for f in s.get("flow_from", [s])]
    if not any(
        f.get("stat_energy_from") == energy and f.get("stat_cost") == cost
        for f in flows
    ):
        raise UiTestError(f"the Energy preferences lack {energy} with {cost}: {prefs}")
    validation = ui.ws({"type": "energy/validate"})
    problems = [issue for source in validation["energy_sources"] for issue in source]
    if problems:
        raise UiTestError(f"the Energy dashboard reports problems: {problems}")
    print(f"    grid consumption {energy}, cost {cost}: accepted", flush=True)


def _dashboard_config(found: Found) -> dict[str, Any] | None:
    if not DASHBOARD.is_file():
        return None
    text = DASHBOARD.read_text()
    text = text.replace(DASHBOARD_PREFIX, f"sensor.{found.prefix}_").replace(
        DASHBOARD_METER, f"han_port:{found.meter_id}_"
    )
    return cast(dict[str, Any], yaml.safe_load(text))


def step_dashboard(ui: Ui, found: Found) -> None:
    """docs/dashboard.yaml as a dashboard: its cards render the meter's values."""
    config = _dashboard_config(found)
    if config is None:
        print(f"    skipped: {DASHBOARD.relative_to(ROOT)} does not exist", flush=True)
        return
    ui.ws(
        {
            "type": "lovelace/dashboards/create",
            "url_path": "han-port",
            "title": "Electricity",
            "icon": "mdi:meter-electric",
            "show_in_sidebar": True,
            "require_admin": False,
            "mode": "storage",
        }
    )
    ui.ws({"type": "lovelace/config/save", "url_path": "han-port", "config": config})
    ui.goto("/han-port/meter")
    ui.page.locator("hui-tile-card").first.wait_for(timeout=LONG)
    ui.page.get_by_text("Power now").first.wait_for(timeout=LONG)
    errors = ui.page.locator("hui-error-card")
    if errors.count():
        raise UiTestError(f"the dashboard has broken cards: {errors.all_inner_texts()}")
    ui.page.wait_for_timeout(3000)  # history and statistics charts load
    ui.shot("dashboard.png")


# Running ------------------------------------------------------------------------


@contextlib.contextmanager
def _terminating_signals() -> Iterator[None]:
    """Have SIGTERM and SIGHUP end the run like Ctrl+C, so clean-up runs."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = {
        signum: signal.signal(signum, interrupt)
        for signum in (signal.SIGTERM, signal.SIGHUP)
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _run_steps(ui: Ui, port: str) -> None:
    """Run the steps in order; a failing one leaves its page behind and stops."""
    found = Found()
    steps: Sequence[tuple[str, Callable[[], None]]] = (
        ("log in", lambda: step_login(ui)),
        (
            "add HAN Port in the config flow",
            lambda: step_add_integration(ui, port, found),
        ),
        ("live power on the device page", lambda: step_device_page(ui, found)),
        ("tariff options", lambda: step_tariff(ui, found)),
        ("tariff sensors", lambda: step_tariff_sensors(ui, found)),
        ("Energy dashboard configuration", lambda: step_energy(ui, found)),
        ("example dashboard", lambda: step_dashboard(ui, found)),
    )
    for name, step in steps:
        started = time.monotonic()
        print(f"== {name}", flush=True)
        try:
            step()
        except (UiTestError, PlaywrightError, KeyError, TypeError) as err:
            ui.capture_failure(name)
            raise UiTestError(f"{name}: {err}") from err
        print(f"   ok ({time.monotonic() - started:.1f} s)", flush=True)


def _check_log(log: Path) -> None:
    """Fail on what Home Assistant logged against HAN Port while the UI used it.

    Blocking calls in the event loop and errors only show in the log: the
    screens look right either way.
    """
    found = [
        line.strip()
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
        if ("ERROR" in line or "Detected blocking call" in line) and "han_port" in line
    ]
    if found:
        raise UiTestError(
            "Home Assistant logged against HAN Port:\n  " + "\n  ".join(found)
        )


def run(args: argparse.Namespace) -> int:
    """Start the demo and the browser, run the steps, stop both whatever happens."""
    if not CHROMIUM.exists():
        raise UiTestError(f"{CHROMIUM} is missing: install Debian's chromium package")
    shots: Path = args.screenshots.resolve()
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("failed-*"):
        old.unlink()
    began = time.monotonic()
    demo: Demo | None = None
    with _terminating_signals(), tempfile.TemporaryDirectory() as profile:
        try:
            print("== starting scripts/demo --no-entry --fast", flush=True)
            demo = Demo.start(args.dir, args.port)
            with sync_playwright() as playwright:
                context: BrowserContext = playwright.chromium.launch_persistent_context(
                    profile,
                    executable_path=str(CHROMIUM),
                    args=list(CHROMIUM_ARGS),
                    headless=True,
                    viewport=VIEWPORT,
                    locale="en-GB",
                    timezone_id="Europe/Oslo",
                    color_scheme="light",
                )
                context.set_default_timeout(SHORT)
                try:
                    _run_steps(Ui(context.new_page(), demo.url, shots), demo.port)
                finally:
                    context.close()
        finally:
            if demo is not None:
                print("== stopping scripts/demo", flush=True)
                demo.stop()
    _check_log(args.dir / "home-assistant.log")
    print(
        f"UI test passed in {time.monotonic() - began:.1f} s; screenshots:", flush=True
    )
    for path in sorted(shots.glob("*.png")):
        print(f"  {path} ({path.stat().st_size // 1024} KiB)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the browser test; exit non-zero on the first failing step."""
    parser = argparse.ArgumentParser(
        prog="scripts/ui-test", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument(
        "--screenshots",
        type=Path,
        default=WORK_DIR / "screenshots",
        help="where the screenshots go (.ui-test/screenshots)",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="Home Assistant's HTTP port (0: any free)"
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=WORK_DIR / "demo",
        help="the demo's Home Assistant configuration and log (.ui-test/demo)",
    )
    args = parser.parse_args(argv)
    try:
        return run(args)
    except UiTestError as err:
        print(f"UI test failed: {err}", file=sys.stderr)
        log = args.dir / "home-assistant.log"
        print(f"Home Assistant's log: {log}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("UI test interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
