"""Registries for swappable families: backbones, channels, fusions, heads."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from ppi.errors import ConfigError


class Registry:
    """Maps a short name (used in YAML) to a class.

    A registered class carries its frozen config dataclass as the class
    attribute ``Config``; :meth:`config_class` returns it so the config loader
    can validate the keys of that component. A component registered lazily
    with its config (which lives in a light module such as
    ``ppi/channels/configs.py``) gives its config without importing its module,
    so reading a config never imports torch, FAISS or torch-geometric.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, type] = {}
        self._lazy: dict[str, str] = {}
        self._configs: dict[str, type] = {}

    def register_lazy(self, name: str, module: str, config: type | None = None) -> None:
        """Name a component whose module is imported only when it is used.

        Keeps heavy imports (torch, transformers, FAISS) off the path of runs
        that never use them; the module registers the class itself on import,
        and that class's ``Config`` must be ``config`` when one is given here.
        """
        self._lazy[name] = module
        if config is not None:
            self._configs[name] = config

    def register(self, name: str) -> Callable[[type], type]:
        """Decorator: ``@BACKBONES.register("esm2")``."""

        def deco(cls: type) -> type:
            if name in self._entries and self._entries[name] is not cls:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            if name in self._configs and getattr(cls, "Config", None) is not self._configs[name]:
                raise ValueError(
                    f"{self.kind} '{name}': Config is {getattr(cls, 'Config', None)!r}, "
                    f"registered as {self._configs[name]!r}"
                )
            self._entries[name] = cls
            cls.registry_name = name
            return cls

        return deco

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(set(self._entries) | set(self._lazy))

    def get(self, name: str) -> type:
        """The class registered as ``name``; unknown names list the choices."""
        if name not in self._entries and name in self._lazy:
            importlib.import_module(self._lazy[name])
        if name not in self._entries:
            raise ConfigError(f"Unknown {self.kind} '{name}' (choices: {', '.join(self.names())})")
        return self._entries[name]

    def config_class(self, name: str) -> type:
        """The frozen config dataclass of the component registered as ``name``.

        Read from the lazy registration when it named one (no import), else
        from the registered class.
        """
        if name in self._configs:
            return self._configs[name]
        return self.get(name).Config

    def build(self, config: Any, *args: Any, **kwargs: Any) -> Any:
        """Instantiate the component named by ``config.name``."""
        return self.get(config.name)(config, *args, **kwargs)

    def __contains__(self, name: str) -> bool:
        return name in self._entries or name in self._lazy


def lazy_attributes(package: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``names[attr]`` on first use of ``attr``.

    A package's ``__init__`` exports its light names (registries, configs)
    directly and its heavy ones (torch modules) through this, so importing the
    package for its configs does not import torch.
    """

    def getattr_(attr: str) -> Any:
        if attr not in names:
            raise AttributeError(f"module {package!r} has no attribute {attr!r}")
        return getattr(importlib.import_module(names[attr]), attr)

    return getattr_
