"""Building blocks of the StyleGAN2 generator and discriminator (Karras et al., 2020,
"Analyzing and Improving the Image Quality of StyleGAN", arXiv:1912.04958).

Every trainable weight uses the equalized learning rate of ProGAN (Karras et al., 2018):
parameters are stored as N(0, 1) / lr_multiplier and scaled by lr_multiplier / sqrt(fan_in)
at run time, so Adam sees the same dynamic range in every layer.

Pure PyTorch: runs on CPU, CUDA and MPS. Tensors are float32 NCHW unless said otherwise.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)  # keeps the activations' second moment at 1 through leaky ReLU
# Every activation is leaky ReLU (slope 0.2) times sqrt(2), as in StyleGAN. Leaky ReLU is positively
# homogeneous, lrelu(g·x) = g·lrelu(x), so each layer folds the gain and its bias into the weights
# and bias of the operation before it (the convolution, or the demodulation's multiply-add) and
# ends in a single leaky ReLU: one pass over the activations instead of three.


class EqualizedLinear(nn.Module):
    """Fully connected layer with equalized learning rate.

    Args:
        in_features, out_features: sizes of the input and output vectors.
        bias_init: initial value of every bias entry (1 for style affines, so styles start at 1).
        lr_multiplier: scales this layer's effective learning rate (0.01 in the mapping network).
        activation: "linear" or "lrelu".

    Shapes: [N, in_features] float → [N, out_features] float.
    """

    def __init__(self, in_features: int, out_features: int, *, bias_init: float = 0.0,
                 lr_multiplier: float = 1.0, activation: str = "linear"):
        super().__init__()
        if activation not in ("linear", "lrelu"):
            raise ValueError(f"activation must be 'linear' or 'lrelu', got {activation!r}")
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_multiplier))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.activation == "linear":
            return F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)
        x = F.linear(x, self.weight * (self.weight_gain * LRELU_GAIN), self.bias * (self.bias_gain * LRELU_GAIN))
        return F.leaky_relu(x, LRELU_SLOPE)


def _fir_kernel(channels: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Depthwise 4×4 low-pass kernel, the outer product of [1, 3, 3, 1] normalised to sum 1.

    Returns: [channels, 1, 4, 4].
    """
    f = torch.tensor([1.0, 3.0, 3.0, 1.0], device=device, dtype=dtype)
    k = torch.outer(f, f)
    return (k / k.sum()).expand(channels, 1, 4, 4)


def downsample2x(x: torch.Tensor) -> torch.Tensor:
    """Blur with the [1, 3, 3, 1] filter and keep every second pixel: [N, C, H, W] → [N, C, H/2, W/2]."""
    return F.conv2d(x, _fir_kernel(x.shape[1], x.device, x.dtype), stride=2, padding=1, groups=x.shape[1])


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    """Bilinear 2× upsampling, the separable [1, 3, 3, 1] / 4 filter: [N, C, H, W] → [N, C, 2H, 2W]."""
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


RESAMPLE_MODES = ("stylegan2", "interpolate")


def transposed_kernel(weight: torch.Tensor) -> torch.Tensor:
    """A convolution's kernel [O, C, k, k] as the transposed convolution computing the same
    correlation takes it: flipped and with its channel axes swapped, [C, O, k, k]."""
    return weight.flip(2, 3).transpose(0, 1)


def upsample_conv2d(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """A 3×3 convolution of the 2× upsampled image, StyleGAN2's way: a stride-2 transposed
    convolution (the convolution on the zero-inserted grid) followed by the [1, 3, 3, 1] filter.
    With ``kernel = transposed_kernel(weight)``, equal to ``conv2d(upsample2x(x), weight,
    padding=1)`` away from the borders (zero-padded here, edge-clamped there) at a quarter of
    the multiply-adds.

    Shapes: x [N, C, H, W], kernel [C, O, 3, 3] → [N, O, 2H, 2W].
    """
    x = F.conv_transpose2d(x, kernel, stride=2, padding=1, output_padding=1)
    return F.conv2d(F.pad(x, [2, 1, 2, 1]), _fir_kernel(x.shape[1], x.device, x.dtype) * 4, groups=x.shape[1])


def conv2d_downsample(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """A 3×3 convolution followed by ``downsample2x``, StyleGAN2's way: the [1, 3, 3, 1] filter
    first, then a stride-2 convolution (the two commute). Equal to
    ``downsample2x(conv2d(x, weight, padding=1))`` away from the borders, at a quarter of the
    convolution's multiply-adds.

    Shapes: x [N, C, H, W], weight [O, C, 3, 3], bias [O] or None → [N, O, H/2, W/2].
    """
    x = F.conv2d(F.pad(x, [1, 2, 1, 2]), _fir_kernel(x.shape[1], x.device, x.dtype), groups=x.shape[1])
    return F.conv2d(x, weight, bias, stride=2, padding=1)


class EqualizedConv2d(nn.Module):
    """2-D convolution with equalized learning rate, optional 2× downsampling and leaky ReLU.

    Used by the discriminator and the encoder. With ``down=True`` the output is low-pass
    filtered and subsampled (anti-aliased): ``resample`` "stylegan2" filters first and strides
    the convolution (``conv2d_downsample``, 3×3 kernels), "interpolate" convolves at full
    resolution first (the first shipped encoder was trained so).

    Shapes: [N, in_channels, H, W] → [N, out_channels, H', W'] with H' = H / 2 when down.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, bias: bool = True,
                 activation: str = "linear", down: bool = False, resample: str = "stylegan2"):
        super().__init__()
        if activation not in ("linear", "lrelu"):
            raise ValueError(f"activation must be 'linear' or 'lrelu', got {activation!r}")
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = kernel_size // 2
        self.activation = activation
        self.down = down
        self.resample = resample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gain = LRELU_GAIN if self.activation == "lrelu" else 1.0
        weight = self.weight * (self.weight_gain * gain)
        bias = self.bias * gain if self.bias is not None else None
        if self.down and self.resample == "stylegan2":
            x = conv2d_downsample(x, weight, bias)
        elif self.down:
            x = downsample2x(F.conv2d(x, weight, padding=self.padding))
            x = x if bias is None else x + bias.view(1, -1, 1, 1)
        else:
            x = F.conv2d(x, weight, bias, padding=self.padding)
        return F.leaky_relu(x, LRELU_SLOPE) if self.activation == "lrelu" else x


class ModulatedConv2d(nn.Module):
    """StyleGAN2 modulated convolution (paper §2.2, eq. 1–3).

    A learned affine maps w to a per-input-channel style s; the kernel is scaled by s
    (modulation) and each output channel renormalised to unit expected variance
    (demodulation). Implemented as x·s → shared convolution → ·d, which equals the grouped
    per-sample kernel exactly and lets every sample share one convolution call.

    Args:
        in_channels, out_channels, kernel_size: convolution geometry.
        w_dim: dimensionality of w.
        demodulate: False for ToRGB.
        up: upsample 2× with the [1, 3, 3, 1] filter: for ``resample`` "stylegan2" as a transposed
            convolution (``upsample_conv2d``, 3×3 kernels), for "interpolate" by bilinear
            interpolation before the convolution (the first shipped generator was trained so).

    Shapes: x [N, in_channels, H, W], w [N, w_dim] → [N, out_channels, H·(2 if up), W·(2 if up)].
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, w_dim: int, *,
                 demodulate: bool = True, up: bool = False, resample: str = "stylegan2"):
        super().__init__()
        self.affine = EqualizedLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = kernel_size // 2
        self.demodulate = demodulate
        self.up = up
        self.resample = resample
        self._frozen_kernel: tuple | None = None   # (weight's data, its version, kernel, Σ_k w²)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        x, dcoefs = self.modulated_conv(x, w)
        return x if dcoefs is None else x * dcoefs[:, :, None, None]

    def modulated_conv(self, x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The convolution of the style-scaled input and, when demodulating, the coefficients
        d [N, out] it still has to be multiplied by (``SynthesisLayer`` fuses that multiply
        with its bias and activation gain)."""
        styles = self.affine(w)                                  # [N, in]
        kernel, weight_sq = self.kernel()
        x = x * styles[:, :, None, None]
        if self.up and self.resample == "stylegan2":
            x = upsample_conv2d(x, kernel)                       # [N, out, 2H, 2W]
        elif self.up:
            x = F.conv2d(upsample2x(x), kernel, padding=self.padding)
        else:
            x = F.conv2d(x, kernel, padding=self.padding)        # [N, out, H, W]
        if not self.demodulate:
            return x, None
        # d_j = 1 / sqrt(sum_{i,k} (s_i w_ijk)^2): [N, out]
        return x, (weight_sq @ styles.square().T).T.add(1e-8).rsqrt()

    def kernel(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The scaled weight as the convolution takes it ([out, in, k, k]; for "stylegan2"
        upsampling ``transposed_kernel``'s [in, out, k, k]) and its squares summed over the
        taps, Σ_k w² [out, in] (for demodulation).

        A frozen weight (requires_grad False: rendering, projection, the EMA generator, a
        generator the encoder trains against) has both computed once, and again only when the
        weight changes in place (``load_state_dict``, an EMA step: its version counter moves) or
        is replaced (``.to()``): at 128² on the CPU that is a fifth of a projection step. A
        forward pass with the weight trainable drops them, so a network that is frozen in
        turns (G while D trains) never meets kernels from before an optimizer step, whichever
        optimizer made it. Writes through ``weight.data`` bypass the version counter and are
        not seen. They are computed outside inference mode, so a render under
        ``torch.inference_mode`` leaves tensors that a later projection's backward pass can use.
        """
        weight = self.weight
        if weight.requires_grad:
            self._frozen_kernel = None
        cached = self._frozen_kernel
        if cached is not None:
            source, version, kernel, weight_sq = cached
            if (source.data_ptr(), source.device, source.dtype, version) == (
                    weight.data_ptr(), weight.device, weight.dtype, weight._version):
                return kernel, weight_sq
        with torch.inference_mode(False):
            scaled = weight * self.weight_gain                   # [out, in, k, k]
            kernel = transposed_kernel(scaled) if self.up and self.resample == "stylegan2" else scaled
            weight_sq = scaled.square().sum(dim=(2, 3))          # [out, in]
            if not weight.requires_grad:
                kernel = kernel.contiguous()
                self._frozen_kernel = (weight.detach(), weight._version, kernel, weight_sq)
        return kernel, weight_sq


class NoiseInjection(nn.Module):
    """Per-pixel Gaussian noise with a learned per-layer strength (initialised to 0).

    ``noise_mode``: "random" draws fresh noise, "const" uses a fixed buffer (deterministic
    renders: the app and tests use it), "none" adds nothing.

    Shapes: [N, C, R, R] → same.
    """

    def __init__(self, resolution: int):
        super().__init__()
        self.strength = nn.Parameter(torch.zeros([]))
        self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution))

    def forward(self, x: torch.Tensor, noise_mode: str, gain: float = 1.0) -> torch.Tensor:
        """x + noise · strength · ``gain`` (the gain of the activation that follows, folded in).

        Raises:
            ValueError: ``noise_mode`` is not "random", "const" or "none".
        """
        if noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype)
        elif noise_mode == "const":
            noise = self.noise_const
        elif noise_mode == "none":
            return x
        else:
            raise ValueError(f"noise_mode must be 'random', 'const' or 'none', got {noise_mode!r}")
        return x + noise * (self.strength * gain)


class SynthesisLayer(nn.Module):
    """Modulated 3×3 convolution, noise, bias and leaky ReLU: one styled layer of the synthesis network.

    Shapes: x [N, in_channels, H, W], w [N, w_dim] → [N, out_channels, R, R] with R = resolution.
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, *, up: bool = False,
                 resample: str = "stylegan2"):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim, up=up, resample=resample)
        self.noise = NoiseInjection(resolution)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        x, dcoefs = self.conv.modulated_conv(x, w)
        # lrelu(d·x + noise + b) · g computed as lrelu(g·d·x + g·b + g·noise): one multiply-add pass.
        x = torch.addcmul((self.bias * LRELU_GAIN).view(1, -1, 1, 1), x, (dcoefs * LRELU_GAIN)[:, :, None, None])
        return F.leaky_relu(self.noise(x, noise_mode, LRELU_GAIN), LRELU_SLOPE)


class ToRGB(nn.Module):
    """Modulated 1×1 convolution to RGB without demodulation (the skip generator's output branch).

    Shapes: x [N, in_channels, R, R], w [N, w_dim] → [N, 3, R, R].
    """

    def __init__(self, in_channels: int, w_dim: int):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, 3, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(3))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias.view(1, -1, 1, 1)
