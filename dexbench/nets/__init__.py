"""Pretrained networks: where each one's weights come from, their sha256, and how they are resolved offline."""

from dexbench.nets.registry import NetSpec, WeightsUnavailable, all_nets, get_net, resolve_weights, weights_status

__all__ = ["NetSpec", "WeightsUnavailable", "all_nets", "get_net", "resolve_weights", "weights_status"]
