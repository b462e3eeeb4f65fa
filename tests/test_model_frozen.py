"""The `frozen` block: no parameter of the judged module trains inside it, its input still does, and every flag
comes back as it was, on an exception too."""

import pytest
import torch

from dexbench.model.training.frozen import frozen


def _net() -> torch.nn.Sequential:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 1))


def test_gradient_reaches_the_input_and_not_the_frozen_module():
    net, x = _net(), torch.randn(2, 3, requires_grad=True)
    with frozen(net):
        net(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in net.parameters())
    assert all(p.requires_grad for p in net.parameters())


def test_flags_restored_as_they_were_even_on_an_exception():
    net = _net()
    net[0].bias.requires_grad_(False)
    shared = _net()
    shared[1] = net[1]  # a parameter reached through two modules is restored once, to its own flag
    with pytest.raises(RuntimeError), frozen(net, shared):
        assert not any(p.requires_grad for p in [*net.parameters(), *shared.parameters()])
        raise RuntimeError("a failing step")
    assert [p.requires_grad for p in net.parameters()] == [True, False, True, True]
    assert all(p.requires_grad for p in shared.parameters())
