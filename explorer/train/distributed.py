"""Data-parallel training across processes started by ``torchrun``.

Every process holds a full copy of the networks and computes the gradient of its share of
each minibatch; gradients are summed across processes with one ``all_reduce`` per optimizer
step, so all copies stay identical. This is what DistributedDataParallel does, done by hand
because DDP's hooks do not support the double backward of R1 and path-length
regularization (``torch.autograd.grad`` with ``create_graph``); stylegan2-ada-pytorch does
the same. NCCL on CUDA, gloo on CPU.

Without ``torchrun`` (no ``WORLD_SIZE`` in the environment) the same code runs as one process
and every collective is a no-op.
"""

from __future__ import annotations

import os
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn


class ProcessGroup:
    """This process's place in a training job: ``rank`` of ``world_size``, and its device.

    Args:
        device: "cpu", "cuda", "cuda:N" or "mps"; under torchrun with CUDA each process takes
            ``cuda:LOCAL_RANK``.

    Raises:
        RuntimeError: the process group could not be set up (torchrun's rendezvous failed).
    """

    def __init__(self, device: str):
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.device = torch.device(device)
        if self.world_size > 1:
            if self.device.type == "cuda":
                self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
                torch.cuda.set_device(self.device)
            backend = "nccl" if self.device.type == "cuda" else "gloo"
            dist.init_process_group(backend, timeout=timedelta(minutes=30))

    @property
    def is_main(self) -> bool:
        """True in the process that writes checkpoints, snapshots and logs (rank 0)."""
        return self.rank == 0

    def sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum ``tensor`` over all processes, in place; returns it."""
        if self.world_size > 1:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def sum_gradients(self, module: nn.Module) -> None:
        """Sum the ``.grad`` of every parameter of ``module`` that has one over all processes,
        as one flat buffer (one collective per optimizer step)."""
        if self.world_size == 1:
            return
        params = [p for p in module.parameters() if p.grad is not None]
        flat = self.sum_(torch.cat([p.grad.flatten() for p in params]))
        for p, g in zip(params, flat.split([p.numel() for p in params])):
            p.grad.copy_(g.view_as(p.grad))

    def close(self) -> None:
        """Leave the process group (a no-op for one process)."""
        if self.world_size > 1:
            dist.destroy_process_group()
