"""GAN losses and regularizers, all on discriminator logits [N, 1] (real > 0).

- Non-saturating logistic loss (Goodfellow et al., 2014) with R1 (Mescheder et al., 2018,
  "Which Training Methods for GANs do actually Converge?"): StyleGAN2's choice.
- Path-length regularization (Karras et al., 2020, StyleGAN2 §3.2), applied lazily (§B).
- WGAN-GP (Gulrajani et al., 2017, "Improved Training of Wasserstein GANs") with the small
  drift term of ProGAN (Karras et al., 2018) that keeps critic outputs near 0: the baseline.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating loss -log sigmoid(D(G(z))): [N, 1] logits → scalar."""
    return F.softplus(-fake_logits).mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Logistic loss -log sigmoid(D(x)) - log(1 - sigmoid(D(G(z)))): [N, 1] logits each → scalar."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def r1_penalty(real_images: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor:
    """Mean squared gradient norm of D at real images, E[||∇_x D(x)||²].

    ``real_images`` must require grad and ``real_logits`` be computed from them with a graph.
    Returns a scalar; the caller scales it by γ/2 and the lazy-regularization interval.
    """
    (grad,) = torch.autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return grad.square().sum(dim=(1, 2, 3)).mean()


def wgan_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """WGAN generator loss -E[D(G(z))]: [N, 1] critic outputs → scalar."""
    return -fake_logits.mean()


def wgan_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor,
                            drift: float = 0.001) -> torch.Tensor:
    """WGAN critic loss E[D(G(z))] - E[D(x)] + drift · E[D(x)²]: [N, 1] each → scalar."""
    return fake_logits.mean() - real_logits.mean() + drift * real_logits.square().mean()


def gradient_penalty(D: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """WGAN-GP's E[(||∇D(x̂)|| - 1)²] at x̂ uniformly between paired real and fake images, in float32.

    ``real`` and ``fake`` must be the images D's loss scored (augmented, if D sees augmented
    images), so the penalty constrains the critic where the loss evaluates it.

    Shapes: real, fake [N, 3, R, R] (any float dtype; fake detached from G) → scalar; the
    caller multiplies by λ (10).
    """
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
    mixed = real.detach().float().lerp(fake.detach().float(), alpha).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(mixed).sum(), mixed, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).square().mean()


class PathLengthPenalty(nn.Module):
    """StyleGAN2's path-length regularizer: ``(||J_wᵀ y|| - a)²`` with y ~ N(0, I) / sqrt(H·W)
    an image-space direction, J_w the Jacobian of the image with respect to W+, and ``a`` the
    running mean of the lengths (decay 0.01), held in the ``pl_mean`` buffer so it is
    checkpointed with the run.

    The penalty is taken against ``pl_mean`` before this step's ``update``, one step behind the
    reference (which first moves the mean toward the batch's lengths), so that every process of
    a DDP job penalizes against the same value and ``update`` can use the mean over all of them.
    """

    def __init__(self, decay: float = 0.01):
        super().__init__()
        self.decay = decay
        self.register_buffer("pl_mean", torch.zeros([]))

    def lengths(self, images: torch.Tensor, ws: torch.Tensor) -> torch.Tensor:
        """Path lengths ||J_wᵀ y|| per sample, with a graph for the penalty's backward.

        Shapes: images [N, 3, H, W] made from ws [N, num_ws, w_dim] (requires grad) → [N].
        """
        y = torch.randn_like(images) / math.sqrt(images.shape[2] * images.shape[3])
        (grad,) = torch.autograd.grad((images * y).sum(), ws, create_graph=True)
        return grad.square().sum(dim=2).mean(dim=1).sqrt()

    def penalty(self, lengths: torch.Tensor) -> torch.Tensor:
        """Mean squared deviation of ``lengths`` [N] from the running mean → scalar."""
        return (lengths - self.pl_mean).square().mean()

    @torch.no_grad()
    def update(self, mean_length: torch.Tensor) -> None:
        """Move the running mean toward ``mean_length`` (a scalar: this step's mean over all
        processes), after the step's penalties were computed."""
        self.pl_mean.lerp_(mean_length.to(self.pl_mean), self.decay)
