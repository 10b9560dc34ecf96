"""Surrogate training time per epoch and inference latency / throughput on CPU (printed only).

For each model of `surrogate/configs`: one training epoch on random tensors shaped like the
demo dataset's gait cycles (the cost does not depend on the values), then inference latency
of one 101-frame gait cycle (batch 1) and throughput at batch 64, after a warm-up; medians and
spreads over repetitions.

    .venv/bin/python benchmarks/bench_surrogate.py [--segments 48] [--targets 60]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from gait2hip.surrogate.config import TrainingConfig
from gait2hip.surrogate.models.registry import MODELS, build_model
from gait2hip.workflows.timing import time_inference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segments", type=int, default=48, help="training gait cycles per epoch")
    parser.add_argument("--targets", type=int, default=60, help="output channels (6 moments + 54 forces)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    print(f"CPU, {torch.get_num_threads()} threads; epoch = {args.segments} cycles of 101 frames, batch of each config")
    print(f"{'model':<12} {'parameters':>10} {'s/epoch':>9} {'latency ms (1 cycle)':>22} {'cycles/s (batch 64)':>20}")
    for name in sorted(MODELS):
        config = TrainingConfig.from_yaml(f"surrogate/configs/{name}.yaml")
        model = build_model(name, config.model_config, 10, args.targets)
        inputs, targets = torch.randn(args.segments, 101, 10), torch.randn(args.segments, 101, args.targets)
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
        epoch_times = []
        for repeat in range(args.repeats + 1):
            start = time.perf_counter()
            for batch in torch.arange(args.segments).split(config.batch_size):
                optimizer.zero_grad()
                torch.nn.functional.mse_loss(model(inputs[batch]), targets[batch]).backward()
                optimizer.step()
            if repeat:
                epoch_times.append(time.perf_counter() - start)
        timing = time_inference(model, 10, repetitions=20)
        latency, throughput = timing["latency_s"], timing["throughput_sequences_per_s"]
        print(f"{name:<12} {sum(p.numel() for p in model.parameters()):>10} {statistics.median(epoch_times):>9.2f} "
              f"{1000 * latency.median:>10.2f} ({1000 * latency.minimum:.2f}–{1000 * latency.maximum:.2f})"
              f" {throughput.median:>10.0f} ({throughput.minimum:.0f}–{throughput.maximum:.0f})")


if __name__ == "__main__":
    main()
