"""Which autocast dtype a GAN step runs in: bf16 or fp16 on a GPU, bf16 on a CPU with native
bf16 arithmetic, fp32 otherwise.

On a CPU, bf16 convolutions only pay off where the instruction set has bf16 dot products
(AVX512-BF16, as on AMD Zen 4 and Intel Cooper Lake and later, or AMX on Sapphire Rapids and
later); elsewhere oneDNN emulates them and runs many times slower than fp32
(pytorch/pytorch#146508), so ``auto`` keeps fp32 there.
"""

from __future__ import annotations

from pathlib import Path

import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU's feature flags from the first ``flags`` line of ``cpuinfo`` (empty where there is
    no such file, e.g. off Linux)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_has_native_bf16(flags: set[str] | None = None) -> bool:
    """Whether the CPU computes bf16 dot products natively (AVX512-BF16 or AMX-BF16)."""
    flags = cpu_flags() if flags is None else flags
    return any(flag in flags for flag in NATIVE_BF16_FLAGS)


def amp_dtype(precision: str, device: torch.device, flags: set[str] | None = None) -> torch.dtype | None:
    """The autocast dtype for ``precision`` (one of ``PRECISIONS``) on ``device``; None for fp32.

    ``auto``: on CUDA bf16 where supported, else fp16 (with loss scaling); on a CPU bf16 when
    ``cpu_has_native_bf16(flags)`` (``flags`` default: this machine's), else fp32; fp32 on
    other devices.
    """
    if precision == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.type == "cpu" and cpu_has_native_bf16(flags):
            return torch.bfloat16
        return None
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
