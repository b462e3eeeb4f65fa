"""Animation methods: the Animator interface, baselines, and the entry-point registry."""

from dexbench.methods.animator import AnimationRequest, Animator, Driver, SourceFrame

__all__ = ["AnimationRequest", "Animator", "Driver", "SourceFrame"]
