"""Accelerators and wall-clock estimates: FLOPs / (peak FLOP/s × MFU).

Peak numbers are dense (no structured sparsity) bf16 tensor throughput per GPU from the
vendors' spec sheets. Vendors usually headline the 2:4-sparsity figure, which is twice these.
Memory per GPU is the datasheet's figure in decimal bytes (80 GB = 80e9 bytes). The GB on these
datasheets are close to GiB (an H100 80GB shows 81,559 MiB = 85.5e9 bytes in nvidia-smi), so
80e9 leaves a few GB for the CUDA context, NCCL buffers and fragmentation, which the training
memory model (:mod:`moeplan.training`) does not count.
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
    peak_flops: float  # FLOP/s, dense bf16
    source: str
    memory_bytes: float = 0.0  # HBM per GPU, bytes (the datasheet's GB x 1e9)
    memory_source: str = ""


ACCELERATORS = {
    "a100": Accelerator(
        "a100",
        "NVIDIA A100 SXM (80 GB)",
        312e12,
        "NVIDIA A100 Tensor Core GPU datasheet: BF16 Tensor Core 312 TFLOPS (624 with "
        "sparsity), https://www.nvidia.com/en-us/data-center/a100/",
        80e9,
        "NVIDIA A100 datasheet: 80 GB HBM2e (A100 80GB SXM), "
        "https://www.nvidia.com/en-us/data-center/a100/",
    ),
    "h100": Accelerator(
        "h100",
        "NVIDIA H100 SXM",
        989e12,
        "NVIDIA H100 Tensor Core GPU datasheet: BF16 Tensor Core 1,979 TFLOPS with sparsity, "
        "989 dense, https://www.nvidia.com/en-us/data-center/h100/",
        80e9,
        "NVIDIA H100 datasheet: 80 GB HBM3 (H100 SXM), "
        "https://www.nvidia.com/en-us/data-center/h100/",
    ),
    "h200": Accelerator(
        "h200",
        "NVIDIA H200 SXM",
        989e12,
        "NVIDIA H200 Tensor Core GPU datasheet: BF16 Tensor Core 1,979 TFLOPS with sparsity, "
        "989 dense, https://www.nvidia.com/en-us/data-center/h200/",
        141e9,
        "NVIDIA H200 datasheet: 141 GB HBM3e, https://www.nvidia.com/en-us/data-center/h200/",
    ),
    "b200": Accelerator(
        "b200",
        "NVIDIA B200 (HGX B200)",
        2.25e15,
        "NVIDIA HGX B200 specifications: FP16/BF16 Tensor Core 4.5 PFLOPS per GPU with "
        "sparsity, 2.25 dense, https://www.nvidia.com/en-us/data-center/hgx/",
        192e9,
        "NVIDIA Blackwell B200: 192 GB HBM3e per GPU (the HGX B200 page lists 1.4 TB "
        "for 8 GPUs, i.e. ~180 GB each as configured there), "
        "https://www.nvidia.com/en-us/data-center/hgx/",
    ),
    "mi300x": Accelerator(
        "mi300x",
        "AMD Instinct MI300X",
        1307e12,
        "AMD Instinct MI300X data sheet: peak BF16 1,307.4 TFLOPS dense (2,614.9 with "
        "sparsity), https://www.amd.com/en/products/accelerators/instinct/mi300/mi300x.html",
        192e9,
        "AMD Instinct MI300X data sheet: 192 GB HBM3, "
        "https://www.amd.com/en/products/accelerators/instinct/mi300/mi300x.html",
    ),
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


def training_time(
    flops: float, gpu: str, mfu: float = MFU_DEFAULT, n_gpus: int = 1
) -> TrainingTime:
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
    return TrainingTime(
        gpu=acc.name,
        peak_flops=acc.peak_flops,
        mfu=float(mfu),
        n_gpus=int(n_gpus),
        flops=float(flops),
        gpu_hours=hours,
        days=hours / n_gpus / 24.0,
        source=acc.source,
    )


#: Seconds per day and per hour.
_DAY, _HOUR = 86_400.0, 3_600.0


@dataclass(frozen=True)
class HardwareBudget:
    """A FLOPs budget from GPUs and time: ``flops = n_gpus × peak × mfu × seconds``."""

    flops: float
    gpu: str
    n_gpus: int
    peak_flops: float
    mfu: float
    gpu_hours: float
    days: float | None
    description: str
    source: str

    def to_dict(self) -> dict:
        return asdict(self)


def _check_mfu(mfu) -> float:
    if (
        isinstance(mfu, bool)
        or not isinstance(mfu, (int, float))
        or not math.isfinite(mfu)
        or not 0 < mfu <= 1
    ):
        raise InputError(f"mfu must be in (0, 1], e.g. 0.4, got {mfu!r}")
    return float(mfu)


def _check_gpus(gpus) -> int:
    if (
        isinstance(gpus, bool)
        or not isinstance(gpus, (int, float))
        or not math.isfinite(gpus)
        or gpus != int(gpus)
        or not 1 <= gpus <= 1e9
    ):
        raise InputError(f"gpus must be a whole number from 1 to 1e9, got {gpus!r}")
    return int(gpus)


def _check_time(value, name: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 < value <= 1e9
    ):
        raise InputError(f"{name} must be positive and finite, got {value!r}")
    return float(value)


def budget_from_hardware(
    gpu: str,
    gpus: int = 1,
    days: float | None = None,
    gpu_hours: float | None = None,
    mfu: float = MFU_DEFAULT,
) -> HardwareBudget:
    """The training FLOPs a cluster delivers in a given time.

    ``flops = gpus × peak × mfu × days × 86,400`` or, from GPU-hours,
    ``flops = gpu_hours × 3,600 × peak × mfu`` (then ``gpus`` only sets ``days``).

    Parameters
    ----------
    gpu : str
        Accelerator name (see :data:`ACCELERATORS`).
    gpus : int
        GPUs working in parallel (whole, >= 1).
    days : float, optional
        Wall-clock days. Exactly one of ``days`` and ``gpu_hours`` is given.
    gpu_hours : float, optional
        GPU-hours (GPUs × hours).
    mfu : float
        Model FLOPs utilisation in (0, 1] (default 0.4).

    Raises
    ------
    InputError
        Unknown GPU; both or neither of ``days`` and ``gpu_hours``; a value out of range.
    """
    acc = get_accelerator(gpu)
    n = _check_gpus(gpus)
    u = _check_mfu(mfu)
    if (days is None) == (gpu_hours is None):
        raise InputError(
            "give exactly one of days and gpu_hours for a budget from hardware, "
            f"got days={days!r}, gpu_hours={gpu_hours!r}"
        )
    if days is not None:
        t = _check_time(days, "days")
        hours = n * t * 24.0
        flops = n * acc.peak_flops * u * t * _DAY
        desc = (
            f"{n} x {acc.name} x {acc.peak_flops:.4g} FLOP/s x MFU {u:g} x {t:g} days "
            f"x 86,400 s = {flops:.4g} FLOPs"
        )
        out_days: float | None = t
    else:
        hours = _check_time(gpu_hours, "gpu_hours")
        flops = hours * _HOUR * acc.peak_flops * u
        desc = (
            f"{hours:g} GPU-hours x 3,600 s x {acc.name} {acc.peak_flops:.4g} FLOP/s x "
            f"MFU {u:g} = {flops:.4g} FLOPs"
        )
        out_days = hours / n / 24.0
    return HardwareBudget(
        flops=flops,
        gpu=acc.name,
        n_gpus=n,
        peak_flops=acc.peak_flops,
        mfu=u,
        gpu_hours=hours,
        days=out_days,
        description=desc,
        source=acc.source,
    )
