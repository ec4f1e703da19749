"""Face latent-space explorer: a StyleGAN2-style face generator, its trainer, and a desktop app."""

__version__ = "0.1.0"
