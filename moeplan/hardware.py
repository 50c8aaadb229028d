"""Accelerators and wall-clock estimates: FLOPs / (peak FLOP/s × MFU).

Peak numbers are dense (no structured sparsity) bf16 tensor throughput per GPU from the
vendors' spec sheets. Vendors usually headline the 2:4-sparsity figure, which is twice these.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .errors import InputError


@dataclass(frozen=True)
class Accelerator:
    """One accelerator model: its dense bf16 peak and where that number comes from."""

    name: str
    description: str
    peak_flops: float   # FLOP/s, dense bf16
    source: str


ACCELERATORS = {
    "a100": Accelerator(
        "a100", "NVIDIA A100 SXM (80 GB)", 312e12,
        "NVIDIA A100 Tensor Core GPU datasheet: BF16 Tensor Core 312 TFLOPS (624 with "
        "sparsity), https://www.nvidia.com/en-us/data-center/a100/"),
    "h100": Accelerator(
        "h100", "NVIDIA H100 SXM", 989e12,
        "NVIDIA H100 Tensor Core GPU datasheet: BF16 Tensor Core 1,979 TFLOPS with sparsity, "
        "989 dense, https://www.nvidia.com/en-us/data-center/h100/"),
    "h200": Accelerator(
        "h200", "NVIDIA H200 SXM", 989e12,
        "NVIDIA H200 Tensor Core GPU datasheet: BF16 Tensor Core 1,979 TFLOPS with sparsity, "
        "989 dense, https://www.nvidia.com/en-us/data-center/h200/"),
    "b200": Accelerator(
        "b200", "NVIDIA B200 (HGX B200)", 2.25e15,
        "NVIDIA HGX B200 specifications: FP16/BF16 Tensor Core 4.5 PFLOPS per GPU with "
        "sparsity, 2.25 dense, https://www.nvidia.com/en-us/data-center/hgx/"),
    "mi300x": Accelerator(
        "mi300x", "AMD Instinct MI300X", 1307e12,
        "AMD Instinct MI300X data sheet: peak BF16 1,307.4 TFLOPS dense (2,614.9 with "
        "sparsity), https://www.amd.com/en/products/accelerators/instinct/mi300/mi300x.html"),
}

MFU_DEFAULT = 0.4


def get_accelerator(name: str) -> Accelerator:
    """Look up an accelerator by name (case-insensitive).

    Raises
    ------
    InputError
        For an unknown name, listing the known ones.
    """
    key = str(name).strip().lower()
    if key not in ACCELERATORS:
        raise InputError(f"unknown GPU {name!r}; use one of {', '.join(sorted(ACCELERATORS))}")
    return ACCELERATORS[key]


@dataclass(frozen=True)
class TrainingTime:
    """Wall-clock estimate of a training run."""

    gpu: str
    peak_flops: float
    mfu: float
    n_gpus: int
    flops: float
    gpu_hours: float
    days: float
    source: str

    def to_dict(self) -> dict:
        return asdict(self)


def training_time(flops: float, gpu: str, mfu: float = MFU_DEFAULT,
                  n_gpus: int = 1) -> TrainingTime:
    """GPU-hours and wall-clock days to spend ``flops`` FLOPs.

    Parameters
    ----------
    flops : float
        Training FLOPs.
    gpu : str
        Accelerator name (see :data:`ACCELERATORS`).
    mfu : float
        Model FLOPs utilisation, in (0, 1]: the share of the peak actually achieved.
    n_gpus : int
        GPUs working in parallel.

    Returns
    -------
    TrainingTime
        ``gpu_hours = flops / (peak · mfu) / 3600``; ``days = gpu_hours / n_gpus / 24``.
    """
    acc = get_accelerator(gpu)
    if not (isinstance(mfu, (int, float)) and math.isfinite(mfu) and 0 < mfu <= 1):
        raise InputError(f"MFU must be in (0, 1], e.g. 0.4, got {mfu!r}")
    if int(n_gpus) != n_gpus or n_gpus < 1:
        raise InputError(f"number of GPUs must be a whole number >= 1, got {n_gpus!r}")
    if not math.isfinite(flops) or flops <= 0:
        raise InputError(f"FLOPs must be positive and finite, got {flops!r}")
    hours = flops / (acc.peak_flops * mfu) / 3600.0
    return TrainingTime(gpu=acc.name, peak_flops=acc.peak_flops, mfu=float(mfu),
                        n_gpus=int(n_gpus), flops=float(flops), gpu_hours=hours,
                        days=hours / n_gpus / 24.0, source=acc.source)
