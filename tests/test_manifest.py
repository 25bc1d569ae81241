"""What hassfest and the HACS action would check, run as tests.

hassfest runs in a container and HACS's action on GitHub; neither runs here,
and hassfest never looks at a custom integration's quality_scale.yaml or its
non-English translations. These tests check what they would (manifest schema
and order, hacs.json, brand icon, translations) and what they would not (that
nb.json matches en.json, that every translation the code uses exists, that the
quality scale lists every rule once).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from importlib import metadata
import json
from pathlib import Path
import re
import struct
import tomllib
from typing import Any

from awesomeversion import AwesomeVersion, AwesomeVersionStrategy
from homeassistant import components
from homeassistant.const import __version__ as HA_VERSION
from packaging.requirements import Requirement
import pytest
import yaml

from custom_components.han_port.const import DOMAIN, PARITIES
from custom_components.han_port.registers import Rejection
from custom_components.han_port.sensor import FIXED_SENSORS, QUANTITY_SENSORS
from custom_components.han_port.tariff_sensors import TARIFF_SENSORS

ROOT = Path(__file__).parent.parent
INTEGRATION = ROOT / "custom_components" / DOMAIN
LANGUAGES = ("en", "nb")

# hassfest's manifest schema for custom integrations (core keys plus version,
# import_executor and issue_tracker); anything else fails validation.
MANIFEST_KEYS = {
    "domain",
    "name",
    "after_dependencies",
    "bluetooth",
    "codeowners",
    "config_flow",
    "dependencies",
    "dhcp",
    "documentation",
    "homekit",
    "import_executor",
    "integration_type",
    "iot_class",
    "issue_tracker",
    "loggers",
    "mqtt",
    "quality_scale",
    "requirements",
    "single_config_entry",
    "ssdp",
    "usb",
    "version",
    "zeroconf",
}
# What hassfest and HACS require of a custom integration's manifest.
REQUIRED_MANIFEST_KEYS = {
    "domain",
    "name",
    "codeowners",
    "config_flow",
    "documentation",
    "integration_type",
    "iot_class",
    "issue_tracker",
    "version",
}
IOT_CLASSES = {
    "assumed_state",
    "calculated",
    "cloud_polling",
    "cloud_push",
    "local_polling",
    "local_push",
}
INTEGRATION_TYPES = {
    "device",
    "entity",
    "hardware",
    "helper",
    "hub",
    "service",
    "system",
    "virtual",
}
# HACS's hacs.json schema (extra keys are rejected).
HACS_KEYS = {
    "name",
    "content_in_root",
    "zip_release",
    "filename",
    "hide_default_branch",
    "country",
    "homeassistant",
    "hacs",
    "persistent_directory",
}
MIN_HA_VERSION = "2026.5.0"

# Every rule of the Integration Quality Scale, by tier (hassfest ALL_RULES).
IQS_RULES = {
    "bronze": [
        "action-setup",
        "appropriate-polling",
        "brands",
        "common-modules",
        "config-flow",
        "config-flow-test-coverage",
        "dependency-transparency",
        "docs-actions",
        "docs-conditions",
        "docs-high-level-description",
        "docs-installation-instructions",
        "docs-removal-instructions",
        "docs-triggers",
        "entity-event-setup",
        "entity-unique-id",
        "has-entity-name",
        "runtime-data",
        "test-before-configure",
        "test-before-setup",
        "unique-config-entry",
    ],
    "silver": [
        "action-exceptions",
        "config-entry-unloading",
        "docs-configuration-parameters",
        "docs-installation-parameters",
        "entity-unavailable",
        "integration-owner",
        "log-when-unavailable",
        "parallel-updates",
        "reauthentication-flow",
        "test-coverage",
    ],
    "gold": [
        "devices",
        "diagnostics",
        "discovery",
        "discovery-update-info",
        "docs-data-update",
        "docs-examples",
        "docs-known-limitations",
        "docs-supported-devices",
        "docs-supported-functions",
        "docs-troubleshooting",
        "docs-use-cases",
        "dynamic-devices",
        "entity-category",
        "entity-device-class",
        "entity-disabled-by-default",
        "entity-translations",
        "exception-translations",
        "icon-translations",
        "reconfiguration-flow",
        "repair-issues",
        "stale-devices",
    ],
    "platinum": ["async-dependency", "inject-websession", "strict-typing"],
}
ALL_RULES = [rule for rules in IQS_RULES.values() for rule in rules]

# hassfest's translation key pattern.
TRANSLATION_KEY = re.compile(r"^[a-z0-9_-]+$")
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
# Exceptions Home Assistant shows translated.
EXCEPTIONS = {
    "ConfigEntryAuthFailed",
    "ConfigEntryError",
    "ConfigEntryNotReady",
    "HomeAssistantError",
    "ServiceValidationError",
}


def load_json(path: Path) -> Any:
    """Return a JSON file's content, keeping the key order."""
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    """Return the integration's manifest.json."""
    return load_json(INTEGRATION / "manifest.json")


@pytest.fixture(scope="module")
def translations() -> dict[str, dict[str, Any]]:
    """Return the translations per language."""
    return {
        language: load_json(INTEGRATION / "translations" / f"{language}.json")
        for language in LANGUAGES
    }


def strings(
    tree: dict[str, Any], path: tuple[str, ...] = ()
) -> Iterator[tuple[str, ...]]:
    """Yield the path of every string in a translation tree."""
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from strings(value, (*path, key))
        else:
            yield (*path, key)


def lookup(tree: dict[str, Any], path: tuple[str, ...]) -> Any:
    """Return the value at a path of a translation tree."""
    for key in path:
        tree = tree[key]
    return tree


def source(name: str) -> str:
    """Return the text of a module of the integration."""
    return (INTEGRATION / name).read_text(encoding="utf-8")


# manifest.json -------------------------------------------------------------


def test_manifest_keys(manifest: dict[str, Any]) -> None:
    """domain, name, then the rest sorted; required keys present, none unknown."""
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert set(keys) >= REQUIRED_MANIFEST_KEYS
    assert set(keys) <= MANIFEST_KEYS, set(keys) - MANIFEST_KEYS


def test_manifest_values(manifest: dict[str, Any]) -> None:
    """Each value has the type and form hassfest and HACS accept."""
    assert manifest["domain"] == INTEGRATION.name == DOMAIN
    assert isinstance(manifest["name"], str) and manifest["name"]
    for url in (manifest["documentation"], manifest["issue_tracker"]):
        assert url.startswith("https://")
    assert not manifest["documentation"].startswith(
        "https://www.home-assistant.io/integrations"
    )
    assert isinstance(manifest["codeowners"], list)
    assert all(owner.startswith("@") for owner in manifest["codeowners"])
    version = AwesomeVersion(manifest["version"])
    assert version.strategy is not AwesomeVersionStrategy.UNKNOWN
    assert manifest["iot_class"] in IOT_CLASSES
    assert manifest["integration_type"] in INTEGRATION_TYPES
    assert manifest["config_flow"] is True
    assert (INTEGRATION / "config_flow.py").is_file()
    for key in ("dependencies", "after_dependencies", "loggers"):
        value = manifest.get(key, [])
        assert isinstance(value, list)
        assert all(isinstance(item, str) for item in value)
    assert "quality_scale" not in manifest  # always "custom" for custom ones


def test_manifest_dependencies_exist(manifest: dict[str, Any]) -> None:
    """Dependencies name integrations Home Assistant has."""
    core_path = Path(components.__path__[0])
    for domain in manifest.get("dependencies", []) + manifest.get(
        "after_dependencies", []
    ):
        assert (core_path / domain / "manifest.json").is_file(), domain


def test_manifest_requirements(manifest: dict[str, Any]) -> None:
    """Requirements parse, have no spaces, and the installed versions meet them."""
    assert manifest["requirements"]
    for line in manifest["requirements"]:
        assert not re.search(r"\s", line)
        requirement = Requirement(line)
        assert requirement.specifier
        installed = metadata.version(requirement.name)
        assert requirement.specifier.contains(installed, prereleases=True), (
            f"{requirement.name} {installed} does not meet {line}"
        )


def test_manifest_version_matches_project(manifest: dict[str, Any]) -> None:
    """The manifest and pyproject.toml state the same version."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert manifest["version"] == project["project"]["version"]


# hacs.json and branding ------------------------------------------------------


def test_hacs_json() -> None:
    """hacs.json has only HACS's keys and the minimum Home Assistant version."""
    hacs = load_json(ROOT / "hacs.json")
    assert set(hacs) <= HACS_KEYS, set(hacs) - HACS_KEYS
    assert isinstance(hacs["name"], str) and hacs["name"]
    assert hacs["homeassistant"] == MIN_HA_VERSION
    assert AwesomeVersion(HA_VERSION) >= AwesomeVersion(MIN_HA_VERSION)
    countries = hacs.get("country", [])
    countries = [countries] if isinstance(countries, str) else countries
    assert all(re.fullmatch(r"[A-Z]{2}", country) for country in countries)
    assert not hacs.get("content_in_root", False)
    assert not hacs.get("zip_release", False)


def test_brand_icon() -> None:
    """brand/icon.png is a square 256 px PNG, as the brands repository wants."""
    data = (INTEGRATION / "brand" / "icon.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (256, 256)


# Translations ---------------------------------------------------------------


def test_no_strings_json() -> None:
    """A custom integration ships its translations, not strings.json."""
    assert not (INTEGRATION / "strings.json").exists()


def test_translations_same_keys(translations: dict[str, dict[str, Any]]) -> None:
    """nb.json has exactly the key tree of en.json."""
    assert set(strings(translations["nb"])) == set(strings(translations["en"]))


def test_translations_same_placeholders(
    translations: dict[str, dict[str, Any]],
) -> None:
    """Every string has the same {placeholders} in both languages."""
    for path in strings(translations["en"]):
        english = lookup(translations["en"], path)
        norwegian = lookup(translations["nb"], path)
        assert sorted(PLACEHOLDER.findall(english)) == sorted(
            PLACEHOLDER.findall(norwegian)
        ), path


def test_translation_strings(translations: dict[str, dict[str, Any]]) -> None:
    """Strings are non-empty literal text with well-formed placeholders and keys."""
    for language, tree in translations.items():
        for path in strings(tree):
            text = lookup(tree, path)
            assert isinstance(text, str), (language, path)
            assert text.strip() == text and text, (language, path)
            # References to other strings are not resolved for custom ones.
            assert "[%key:" not in text, (language, path)
            assert all(
                re.fullmatch(r"[a-z_]+", name) for name in PLACEHOLDER.findall(text)
            ), (language, path)
            assert text.count("{") == text.count("}"), (language, path)
            for key in path[1:]:
                assert TRANSLATION_KEY.match(key) or key in PARITIES, (language, path)


def test_entity_names(translations: dict[str, dict[str, Any]]) -> None:
    """Every sensor's translation key has a name, and no name is unused."""
    keys = {
        description.translation_key
        for description in (*QUANTITY_SENSORS, *FIXED_SENSORS, *TARIFF_SENSORS)
    }
    assert None not in keys
    for language, tree in translations.items():
        names = tree["entity"]["sensor"]
        assert set(names) == keys, language
        assert all(set(entry) == {"name"} for entry in names.values())


def test_icons(translations: dict[str, dict[str, Any]]) -> None:
    """icons.json only names sensors that exist, with mdi icons."""
    icons = load_json(INTEGRATION / "icons.json")
    assert set(icons) == {"entity"}
    assert set(icons["entity"]) == {"sensor"}
    names = translations["en"]["entity"]["sensor"]
    for key, icon in icons["entity"]["sensor"].items():
        assert key in names
        assert set(icon) <= {"default", "state", "range"}
        assert icon["default"].startswith("mdi:")


def _calls(tree: ast.AST) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((kw.value for kw in call.keywords if kw.arg == name), None)


def _placeholder_keys(call: ast.Call) -> set[str] | None:
    value = _keyword(call, "translation_placeholders")
    if not isinstance(value, ast.Dict):
        return None
    return {key.value for key in value.keys if isinstance(key, ast.Constant)}


def test_issue_and_exception_translations(
    translations: dict[str, dict[str, Any]],
) -> None:
    """Each repair issue and exception the code raises has its text, placeholders included."""
    used: dict[str, tuple[str, set[str] | None]] = {}
    for path in sorted(INTEGRATION.glob("*.py")):
        for call in _calls(ast.parse(path.read_text(encoding="utf-8"))):
            key = _keyword(call, "translation_key")
            func = call.func
            called = func.attr if isinstance(func, ast.Attribute) else ""
            called = called or (func.id if isinstance(func, ast.Name) else "")
            if key is None or not (
                called == "async_create_issue" or called in EXCEPTIONS
            ):
                continue
            section = "issues" if called == "async_create_issue" else "exceptions"
            if isinstance(key, ast.Constant):
                keys = [key.value]
            else:
                # f"rejected_register_{reason}": one issue per rejection reason.
                assert isinstance(key, ast.JoinedStr)
                prefix = key.values[0]
                assert isinstance(prefix, ast.Constant)
                keys = [f"{prefix.value}{reason}" for reason in Rejection]
            for found in keys:
                used[found] = (section, _placeholder_keys(call))
    assert {"no_data", "checksum_errors", "cannot_open_port"} <= set(used)
    for language, tree in translations.items():
        for key, (section, placeholders) in used.items():
            texts = tree[section][key]
            assert texts, (language, key)
            written = {
                name for text in texts.values() for name in PLACEHOLDER.findall(text)
            }
            if placeholders is not None:
                assert written <= placeholders, (language, key, written - placeholders)
        raised = {key for key, (section, _) in used.items() if section == "issues"}
        assert set(tree["issues"]) == raised, language


def test_config_flow_translations(translations: dict[str, dict[str, Any]]) -> None:
    """Every step, menu option, progress text, error and abort reason exists."""
    text = source("config_flow.py")
    config_text, _, options_text = text.partition("class HanPortOptionsFlow")
    steps = set(re.findall(r'step_id="(\w+)"', config_text))
    steps |= set(re.findall(r'_port_form\("(\w+)"\)', config_text))
    steps.discard("detect")  # a progress step: its text is under "progress"
    progress = set(re.findall(r'progress_action="(\w+)"', config_text))
    errors = set(re.findall(r'_error = "(\w+)"', config_text))
    errors |= set(re.findall(r'errors\[[^\]]+\] = "(\w+)"', config_text))
    aborts = set(re.findall(r'reason="(\w+)"', config_text))
    if "_abort_if_unique_id_configured" in config_text:
        aborts.add("already_configured")
    if "async_set_unique_id" in config_text:
        aborts.add("already_in_progress")
    if "async_update_reload_and_abort" in config_text:
        aborts.add("reconfigure_successful")
    if "async_step_reauth" in config_text:
        aborts.add("reauth_successful")
    options_steps = set(re.findall(r'step_id="(\w+)"', options_text))
    menu = r'step_id="(\w+)",\s*menu_options=\[([^\]]*)\]'
    menus = dict(re.findall(menu, config_text))
    options_menus = dict(re.findall(menu, options_text))
    options_errors = set(re.findall(r'errors\[[^\]]+\] = "(\w+)"', options_text))
    selectors = set(re.findall(r'translation_key="(\w+)"', config_text))
    options_selectors = set(re.findall(r'translation_key="(\w+)"', options_text))

    assert steps >= {"user", "reconfigure", "manual", "encryption_key", "found"}
    assert {"cannot_connect", "wrong_key", "invalid_key"} <= errors
    assert "wrong_meter" in aborts
    assert menus
    for language, tree in translations.items():
        config = tree["config"]
        assert set(config["step"]) == steps, language
        assert set(config["progress"]) == progress, language
        assert set(config["error"]) == errors, language
        assert set(config["abort"]) == aborts, language
        assert set(tree["options"]["step"]) == options_steps, language
        for step, options in menus.items():
            names = set(re.findall(r'"(\w+)"', options))
            if "self._port_step" in options:
                names |= {"user", "reconfigure"}
            assert set(config["step"][step]["menu_options"]) == names, language
        for selector in selectors:
            assert set(tree["selector"][selector]["options"]) == set(PARITIES)
        options = tree["options"]
        assert set(options.get("error", {})) == options_errors, language
        for step, names in options_menus.items():
            assert set(options["step"][step]["menu_options"]) == set(
                re.findall(r'"(\w+)"', names)
            ), language
        assert set(tree["selector"]) == selectors | options_selectors, language


def test_config_flow_placeholders(translations: dict[str, dict[str, Any]]) -> None:
    """Step texts only use placeholders the flow fills in."""
    text = source("config_flow.py")
    body = text[text.index("def _placeholders") :]
    given = set(re.findall(r'"(\w+)": ', body[: body.index("return placeholders")]))
    assert {"port", "vendor", "meter_id"} <= given
    # The reauth step fills in its own; Home Assistant adds the entry's name.
    reauth = text[text.index("def async_step_reauth_confirm") :]
    reauth = reauth[: reauth.index("def ", 10)]
    reauth_given = set(
        re.findall(r'"(\w+)": ', reauth[reauth.index("description_placeholders") :])
    )
    assert reauth_given == {"title", "port"}
    for language, tree in translations.items():
        config = tree["config"]
        for path in strings(config):
            allowed = reauth_given | {"name"} if "reauth_confirm" in path else given
            used = set(PLACEHOLDER.findall(lookup(config, path)))
            assert used <= allowed, (language, path, used - allowed)


# quality_scale.yaml -------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
        duplicates = {key for key in keys if keys.count(key) > 1}
        if duplicates:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate keys {duplicates}", node.start_mark
            )
        return super().construct_mapping(node, deep=deep)


def test_quality_scale() -> None:
    """Every rule is listed once with done, todo or exempt; exempt says why."""
    text = (INTEGRATION / "quality_scale.yaml").read_text(encoding="utf-8")
    scale = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader
    assert set(scale) == {"rules"}
    rules = scale["rules"]
    assert list(rules) == ALL_RULES
    for rule, value in rules.items():
        if isinstance(value, str):
            status, comment = value, None
        else:
            assert set(value) <= {"status", "comment"}, rule
            status, comment = value["status"], value.get("comment")
        assert status in {"done", "todo", "exempt"}, rule
        if status == "exempt":
            assert isinstance(comment, str) and comment.strip(), rule
    # Judgements the code settles.
    manifest = load_json(INTEGRATION / "manifest.json")
    owner = rules["integration-owner"]["status"]
    assert owner == ("done" if manifest["codeowners"] else "todo")
    assert rules["discovery"]["status"] == "exempt"
    assert "usb" not in manifest
    assert "PARALLEL_UPDATES = 0" in source("sensor.py")


def test_quality_scale_rejects_duplicates() -> None:
    """The loader used above does notice a rule listed twice."""
    with pytest.raises(yaml.constructor.ConstructorError):
        yaml.load("rules:\n  brands: done\n  brands: todo\n", Loader=_UniqueKeyLoader)  # noqa: S506


def test_services(translations: dict[str, dict[str, Any]]) -> None:
    """Every action in services.yaml has its name, description and fields translated."""
    services = yaml.safe_load(
        (INTEGRATION / "services.yaml").read_text(encoding="utf-8")
    )
    for language, tree in translations.items():
        assert set(tree["services"]) == set(services), language
        for name, service in services.items():
            texts = tree["services"][name]
            assert texts["name"] and texts["description"], (language, name)
            assert set(texts["fields"]) == set(service["fields"]), (language, name)


def test_blueprint() -> None:
    """The load-shedding blueprint is a valid automation blueprint."""
    from homeassistant.components.blueprint.models import Blueprint  # noqa: PLC0415
    from homeassistant.components.blueprint.schemas import BLUEPRINT_SCHEMA  # noqa: PLC0415
    from homeassistant.util.yaml import load_yaml  # noqa: PLC0415

    path = (
        INTEGRATION.parent.parent
        / "blueprints/automation/han_port/shed_load_on_headroom.yaml"
    )
    blueprint = Blueprint(
        load_yaml(path), expected_domain="automation", schema=BLUEPRINT_SCHEMA
    )
    assert set(blueprint.inputs) == {"headroom_sensor", "threshold", "loads"}
