"""Training throughput of ``explorer train gan``: images/s over whole training steps (G and D
steps, lazy R1 and path-length regularization, ADA, EMA included), on synthetic data (speed does
not depend on the pictures), at 64² and 128², on the CPU and, when present, the GPU.

Each configuration is also run as a naive fp32 baseline of the same networks, the textbook
implementation: the modulated convolution as the paper writes it (per-sample kernels scaled by
the styles, demodulated, applied as one grouped convolution), upsampling before the synthesis
convolutions and convolving at full resolution before downsampling in D, bias, activation and
gain as separate ops, in NCHW memory. Ours: x·s → one shared convolution → ·d, transposed /
strided convolutions around the [1, 3, 3, 1] filter (a quarter of the multiply-adds), bias and
gain folded into the convolution (or the demodulation's multiply-add) before one leaky ReLU,
channels-last memory. On a GPU the anchor's
128² configuration (channel base 16384, max 512, batch 32) is timed in s/kimg.

    python -m benchmarks.train_throughput [--kimg 0.4] [--resolutions 64 128] [--no-naive]

Prints one JSON object per configuration as it finishes, then all of them as one JSON object.
"""

import argparse
import json
import platform
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import torch
import torch.nn.functional as F

from explorer.data.dataset import make_synthetic_dataset
from explorer.nets.layers import (
    LRELU_GAIN,
    LRELU_SLOPE,
    EqualizedConv2d,
    ModulatedConv2d,
    SynthesisLayer,
    downsample2x,
    upsample2x,
)
from explorer.train import gan
from explorer.train.gan import GanTrainConfig, train_gan


def grouped_modulated_conv(self: ModulatedConv2d, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """StyleGAN2 eq. 1–3 literally: per-sample kernels w'_ijk = s_i·w_ijk, demodulated, as one
    grouped convolution over the batch. [N, in, H, W], [N, w_dim] → [N, out, H', W']."""
    n = x.shape[0]
    styles = self.affine(w)                                                         # [N, in]
    weight = self.weight * self.weight_gain * styles[:, None, :, None, None]       # [N, out, in, k, k]
    if self.demodulate:
        weight = weight * (weight.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8).rsqrt()
    if self.up:
        x = upsample2x(x)
    x = F.conv2d(x.reshape(1, -1, *x.shape[2:]), weight.flatten(0, 1), padding=self.padding, groups=n)
    return x.reshape(n, -1, *x.shape[2:])


def lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN


def textbook_conv2d(self: EqualizedConv2d, x: torch.Tensor) -> torch.Tensor:
    """Convolution (at full resolution, then downsampled), bias, activation, gain: one op each."""
    x = F.conv2d(x, self.weight * self.weight_gain, padding=self.padding)
    if self.down:
        x = downsample2x(x)
    if self.bias is not None:
        x = x + self.bias.view(1, -1, 1, 1)
    return lrelu(x) if self.activation == "lrelu" else x


def textbook_synthesis_layer(self: SynthesisLayer, x: torch.Tensor, w: torch.Tensor,
                             noise_mode: str = "random") -> torch.Tensor:
    """Modulated convolution, noise, bias, activation, gain: one op each."""
    x = self.noise(grouped_modulated_conv(self.conv, x, w), noise_mode)
    return lrelu(x + self.bias.view(1, -1, 1, 1))


def measure(cfg: GanTrainConfig, device: str, naive: bool) -> dict:
    """Train ``cfg`` once and return the median img/s over its ticks after the first (warm-up)."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg.data = str(make_synthetic_dataset(Path(tmp) / "data.zip", 256, cfg.resolution))
        patches = [mock.patch.object(ModulatedConv2d, "forward", grouped_modulated_conv),
                   mock.patch.object(SynthesisLayer, "forward", textbook_synthesis_layer),
                   mock.patch.object(EqualizedConv2d, "forward", textbook_conv2d),
                   mock.patch.object(gan, "MEMORY_FORMAT", torch.contiguous_format)] if naive else []
        for patch in patches:
            patch.start()
        try:
            train_gan(cfg, Path(tmp) / "run", device=device)
        finally:
            for patch in patches:
                patch.stop()
        rows = [json.loads(line) for line in (Path(tmp) / "run" / "stats.jsonl").read_text().splitlines()]
    img_s = float(np.median([r["img_per_s"] for r in rows[1:]]))
    return {"img_per_s": round(img_s, 2), "s_per_kimg": round(1000 / img_s, 1),
            "mem_gb": rows[-1]["mem_gb"], "ticks": len(rows) - 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kimg", type=float, default=0.4, help="images per configuration (thousands)")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--no-naive", action="store_true", help="skip the naive baselines")
    args = parser.parse_args()
    cpu = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    runs = [("cpu", cpu, GanTrainConfig(data="", resolution=r)) for r in args.resolutions]
    if torch.cuda.is_available():
        gpu = torch.cuda.get_device_name()
        runs += [("cuda", gpu, GanTrainConfig(data="", resolution=r)) for r in args.resolutions]
        runs.append(("cuda", gpu, GanTrainConfig(data="", resolution=128, channel_base=16384, channel_max=512,
                                                 batch=32)))
    results = []
    for device, machine, cfg in runs:
        tick = args.kimg / 5
        for naive in ([False] if args.no_naive else [False, True]):
            run_cfg = GanTrainConfig(**{**cfg.__dict__, "kimg": args.kimg, "tick_kimg": tick,
                                        "snapshot_kimg": args.kimg})
            result = measure(run_cfg, device, naive)
            results.append({"device": device, "machine": machine, "torch": torch.__version__,
                            "resolution": cfg.resolution, "channel_base": cfg.channel_base,
                            "channel_max": cfg.channel_max, "batch": cfg.batch,
                            "variant": "naive fp32 baseline" if naive else "explorer",
                            "precision": "fp32" if device == "cpu" else "auto", **result})
            print(json.dumps(results[-1]), flush=True)
    print(json.dumps({"train_throughput": results}))


if __name__ == "__main__":
    main()
