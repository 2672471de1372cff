"""Adding a gateway is one package and one registry line: no gateway is named elsewhere in src/.

The names come from the registry, so a new gateway is covered the moment it is registered.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from payhub.gateways.registry import registry

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
REGISTRY = SRC / "payhub" / "gateways" / "registry.py"


def gateway_packages() -> dict[str, str]:
    """Registry name -> the dotted package its adapter lives in."""
    return {name: gw.adapter.__module__.rpartition(".")[0] for name, gw in registry().items()}


def package_dir(package: str) -> Path:
    return SRC.joinpath(*package.split("."))


def test_each_gateway_is_a_package_of_its_own() -> None:
    packages = gateway_packages()
    assert len(set(packages.values())) == len(packages)
    for package in packages.values():
        assert package.startswith("payhub.gateways.")
        assert (package_dir(package) / "__init__.py").is_file()


def test_no_gateway_is_named_outside_its_package_and_the_registry() -> None:
    packages = gateway_packages()
    words = {name for name in packages} | {gw.adapter.display_name for gw in registry().values()}
    pattern = re.compile("|".join(re.escape(w) for w in sorted(words)), re.IGNORECASE)
    own_dirs = [package_dir(p) for p in packages.values()]
    found = []
    for path in sorted(SRC.rglob("*")):
        if not path.is_file() or path == REGISTRY or "__pycache__" in path.parts:
            continue
        if any(path.is_relative_to(d) for d in own_dirs):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        relative = path.relative_to(SRC).as_posix()
        for number, line in enumerate(text.splitlines(), 1):
            if pattern.search(line):
                found.append(f"src/{relative}:{number}: {line.strip()}")
    assert not found, "a gateway is named outside its package:\n" + "\n".join(found)


def test_the_independence_contract_lists_every_registered_gateway() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    independent = [c for c in contracts if c["type"] == "independence"]
    assert len(independent) == 1
    assert sorted(independent[0]["modules"]) == sorted(gateway_packages().values()), (
        "list each registered gateway package in pyproject.toml's independence contract"
    )
