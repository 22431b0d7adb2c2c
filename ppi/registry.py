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
    can validate the keys of that component.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, type] = {}
        self._lazy: dict[str, str] = {}

    def register_lazy(self, name: str, module: str) -> None:
        """Name a component whose module is imported only when it is used.

        Keeps heavy imports (transformers, fair-esm) off the path of runs that
        never use them; the module registers the class itself on import.
        """
        self._lazy[name] = module

    def register(self, name: str) -> Callable[[type], type]:
        """Decorator: ``@BACKBONES.register("esm2")``."""

        def deco(cls: type) -> type:
            if name in self._entries and self._entries[name] is not cls:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
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
        """The frozen config dataclass of the component registered as ``name``."""
        return self.get(name).Config

    def build(self, config: Any, *args: Any, **kwargs: Any) -> Any:
        """Instantiate the component named by ``config.name``."""
        return self.get(config.name)(config, *args, **kwargs)

    def __contains__(self, name: str) -> bool:
        return name in self._entries or name in self._lazy
