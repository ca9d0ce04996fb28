"""Sparkplug B topic namespace: ``spBv1.0/<group>/<verb>/<edge node>[/<device>]`` and ``spBv1.0/STATE/<host>``."""

from __future__ import annotations

from dataclasses import dataclass

NAMESPACE = "spBv1.0"


@dataclass(frozen=True, slots=True)
class SparkplugTopics:
    group_id: str
    edge_node_id: str

    def _node(self, verb: str) -> str:
        return f"{NAMESPACE}/{self.group_id}/{verb}/{self.edge_node_id}"

    @property
    def nbirth(self) -> str:
        return self._node("NBIRTH")

    @property
    def ndeath(self) -> str:
        return self._node("NDEATH")

    @property
    def ndata(self) -> str:
        return self._node("NDATA")

    @property
    def ncmd(self) -> str:
        return self._node("NCMD")

    def dbirth(self, device: str) -> str:
        return f"{self._node('DBIRTH')}/{device}"

    def ddeath(self, device: str) -> str:
        return f"{self._node('DDEATH')}/{device}"

    def ddata(self, device: str) -> str:
        return f"{self._node('DDATA')}/{device}"

    def dcmd(self, device: str) -> str:
        return f"{self._node('DCMD')}/{device}"

    @property
    def dcmd_filter(self) -> str:
        return f"{self._node('DCMD')}/+"

    def dcmd_device(self, topic: str) -> str | None:
        """The device of a DCMD topic of this edge node, else None."""
        prefix = self._node("DCMD") + "/"
        if topic.startswith(prefix) and "/" not in topic[len(prefix):]:
            return topic[len(prefix):] or None
        return None

    @staticmethod
    def state(host_id: str) -> str:
        return f"{NAMESPACE}/STATE/{host_id}"


def valid_id(name: str) -> bool:
    """Group, edge node and device ids: non-empty UTF-8 without ``+ / #``."""
    return bool(name) and not any(c in name for c in "+/#")
