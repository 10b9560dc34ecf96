"""Surrogate models: one interface, they learn, the fast scan equals the reference recurrence."""

from __future__ import annotations

import pytest
import torch

from gait2hip.surrogate.models.registry import MODELS, build_model
from gait2hip.surrogate.models.selective_scan import selective_scan, selective_scan_reference

SCAN_TOLERANCE = 1e-5


def _scan_inputs(dtype=torch.float32):
    generator = torch.Generator().manual_seed(0)
    batch, length, channels, state = 2, 53, 6, 4
    x = torch.randn(batch, length, channels, generator=generator, dtype=dtype, requires_grad=True)
    delta = (torch.rand(batch, length, channels, generator=generator, dtype=dtype) * 0.5 + 0.01).requires_grad_()
    a = (-torch.rand(channels, state, generator=generator, dtype=dtype) * 2).requires_grad_()
    b = torch.randn(batch, length, state, generator=generator, dtype=dtype, requires_grad=True)
    c = torch.randn(batch, length, state, generator=generator, dtype=dtype, requires_grad=True)
    d = torch.randn(channels, generator=generator, dtype=dtype, requires_grad=True)
    return x, delta, a, b, c, d


def test_parallel_scan_matches_the_step_by_step_recurrence_outputs_and_gradients():
    inputs = _scan_inputs()
    fast = selective_scan(*inputs)
    fast_gradients = torch.autograd.grad(fast.square().sum(), inputs)
    reference = selective_scan_reference(*inputs)
    reference_gradients = torch.autograd.grad(reference.square().sum(), inputs)
    torch.testing.assert_close(fast, reference, atol=SCAN_TOLERANCE, rtol=SCAN_TOLERANCE)
    for fast_gradient, reference_gradient in zip(fast_gradients, reference_gradients):
        torch.testing.assert_close(fast_gradient, reference_gradient, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_maps_batch_time_inputs_to_batch_time_outputs(name):
    model = build_model(name, {}, 10, 7)
    assert model(torch.zeros(3, 101, 10)).shape == (3, 101, 7)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_overfits_a_tiny_set(name):
    torch.manual_seed(0)
    time = torch.linspace(0, 1, 40)
    inputs = torch.stack([torch.sin(2 * torch.pi * (time + shift)) for shift in (0.0, 0.3)], dim=0)
    inputs = inputs.unsqueeze(-1).repeat(1, 1, 10)                       # (2, 40, 10)
    targets = torch.cat([inputs[..., :1] ** 2, torch.roll(inputs[..., :1], 5, dims=1)], dim=-1)  # (2, 40, 2)
    model = build_model(name, {"dropout": 0.0}, 10, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(250):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(inputs), targets)
        loss.backward()
        optimizer.step()
        first = first if first is not None else float(loss.detach())
    assert float(loss) < first / 10


@pytest.mark.parametrize("name,config", [("mamba", {}), ("lstm", {"bidirectional": False}),
                                         ("transformer", {"causal": True})])
def test_streaming_frame_by_frame_equals_whole_sequence_causal_prediction(name, config):
    torch.manual_seed(1)
    model = build_model(name, {**config, "dropout": 0.0}, 10, 3).eval()
    inputs = torch.randn(2, 30, 10)
    with torch.no_grad():
        whole = model(inputs)
        state = model.init_stream(2)
        streamed = []
        for t in range(inputs.shape[1]):
            output, state = model.step(inputs[:, t], state)
            streamed.append(output)
    torch.testing.assert_close(torch.stack(streamed, dim=1), whole, atol=1e-5, rtol=1e-4)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fused_cuda_kernel_matches_the_reference():
    pytest.importorskip("mamba_ssm")
    model = build_model("mamba", {}, 10, 3).cuda().eval()
    inputs = torch.randn(2, 50, 10, device="cuda")
    with torch.no_grad():
        fused = model(inputs)
        model_cpu = model.cpu()
        reference = model_cpu(inputs.cpu())
    torch.testing.assert_close(fused.cpu(), reference, atol=1e-4, rtol=1e-3)
