"""StyleGAN2 losses: non-saturating logistic loss and the R1 penalty.

Goodfellow et al., 2014 (non-saturating generator loss); Mescheder et al., 2018, "Which Training
Methods for GANs do actually Converge?" (R1); Karras et al., 2020 §B (lazy regularization).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


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
