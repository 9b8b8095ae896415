"""Training-time augmentations that keep a micro-expression what it is.

- Mirror: the clip flipped left-right about the face's own midline. The align stage puts the
  template's midline at x = S/2 in pixel-centre coordinates, half a pixel right of the image's
  centre, so a plain flip would move the face by one pixel: the flipped clip is shifted back by
  one column (its edge column repeated). The flow is mirrored with it and its horizontal
  component negated (a movement to the image's left becomes one to its right), and the clip's
  sentence is
  the mirrored one: a one-sided AU changes side ("left lip corner puller" becomes "right lip
  corner puller"), so the contrastive loss still pairs each clip with a true description.
- Magnitude jitter: the flow scaled by one factor per clip, so the network does not key on an
  exact amplitude (the amplitudes of real footage vary with the person and the camera).
- Temporal jitter: the clip moved by a few frames in time, its edge frames repeated.
- Light and colour: the RGB clip's contrast, brightness and colour balance changed, or the
  clip made grey, one change for all its frames so that nothing in it moves (the flow is
  left as it is). Real faces and cameras differ in all of these.

Applied to a training batch after it is loaded, from the training loop's own generator, so the
draws depend on the seed alone, not on the loader's workers. Not for evaluation or prediction.
"""

from __future__ import annotations

import re

import torch
from torch import Tensor

from attrmer.config import AugmentConfig

_SIDE = re.compile(r"\b(left|right)\b")


def mirror_sentence(sentence: str) -> str:
    """The sentence of the mirrored clip: "left" and "right" exchanged."""
    return _SIDE.sub(lambda m: "right" if m.group(1) == "left" else "left", sentence)


def mirrored_texts(sentences: list[str]) -> tuple[list[str], list[int]]:
    """(sentences with the mirrored ones appended where they differ, mirror index per text)."""
    extended = list(sentences)
    index = {text: i for i, text in enumerate(sentences)}
    mirror = []
    for text in sentences:
        flipped = mirror_sentence(text)
        if flipped not in index:
            index[flipped] = len(extended)
            extended.append(flipped)
        mirror.append(index[flipped])
    # The appended sentences mirror back onto the originals.
    mirror += [index[mirror_sentence(text)] for text in extended[len(sentences):]]
    return extended, mirror


def mirror_about_face_midline(clips: Tensor) -> Tensor:
    """(..., W) clips mirrored about x = W/2 (pixel centres), where the template's midline
    lies: a flip (about (W − 1)/2) and a shift right by one column, the edge column repeated."""
    flipped = clips.flip(-1)
    shifted = torch.empty_like(flipped)
    shifted[..., 1:] = flipped[..., :-1]
    shifted[..., 0] = flipped[..., 0]
    return shifted


# Ranges of the light and colour change: contrast and gain are factors, brightness is in
# grey levels; GREY_SHARE of the changed clips lose their colour.
CONTRAST = (0.7, 1.3)
BRIGHTNESS = 25.0
CHANNEL_GAIN = (0.85, 1.15)
GREY_SHARE = 1 / 3


def relit(rgb: Tensor, chosen: Tensor, generator: torch.Generator) -> Tensor:
    """uint8 clips (B, 3, T, H, W) with those `chosen` given another light and colour: about
    each clip's mean, contrast × a factor, + a brightness, each channel × its own gain, or
    grey (the mean of the channels) for a share of them."""
    batch = rgb.shape[0]

    def uniform(low: float, high: float, *shape: int) -> Tensor:
        return low + (high - low) * torch.rand(*shape, generator=generator)

    # Drawn for every clip, chosen or not, so that each clip's draw does not depend on the
    # others'.
    contrast = uniform(*CONTRAST, batch)
    brightness = uniform(-BRIGHTNESS, BRIGHTNESS, batch)
    gain = uniform(*CHANNEL_GAIN, batch, 3)
    grey = torch.rand(batch, generator=generator) < GREY_SHARE
    if not chosen.any():
        return rgb
    clips = rgb[chosen].float()
    mean = clips.mean(dim=(1, 2, 3, 4), keepdim=True)
    clips = (clips - mean) * contrast[chosen].view(-1, 1, 1, 1, 1) + mean
    clips = clips + brightness[chosen].view(-1, 1, 1, 1, 1)
    clips = clips * gain[chosen].view(-1, 3, 1, 1, 1)
    to_grey = grey[chosen]
    if to_grey.any():
        clips[to_grey] = clips[to_grey].mean(dim=1, keepdim=True).expand_as(clips[to_grey])
    out = rgb.clone()
    out[chosen] = clips.round().clamp(0, 255).to(torch.uint8)
    return out


def augment_batch(
    rgb: Tensor, flow: Tensor, text_ids: Tensor, cfg: AugmentConfig, mirror: Tensor,
    generator: torch.Generator,
) -> tuple[Tensor, Tensor, Tensor]:
    """(rgb (B,3,T,H,W), flow (B,2,T,H,W) in pixels, text ids) augmented per clip: the
    network's inputs at their input size (any dtype for rgb), before the flow's per-clip
    scale and bound."""
    batch = rgb.shape[0]
    if cfg.flip > 0:
        flipped = torch.rand(batch, generator=generator) < cfg.flip
        if flipped.any():
            rgb, flow, text_ids = rgb.clone(), flow.clone(), text_ids.clone()
            rgb[flipped] = mirror_about_face_midline(rgb[flipped])
            mirrored = mirror_about_face_midline(flow[flipped])
            mirrored[:, 0] = -mirrored[:, 0]
            flow[flipped] = mirrored
            text_ids[flipped] = mirror[text_ids[flipped]]
    if cfg.magnitude > 0:
        scale = 1.0 + cfg.magnitude * (2 * torch.rand(batch, generator=generator) - 1)
        flow = flow * scale.view(batch, 1, 1, 1, 1).to(flow.dtype)
    if cfg.light > 0:
        rgb = relit(rgb, torch.rand(batch, generator=generator) < cfg.light, generator)
    if cfg.time_shift > 0:
        frames = rgb.shape[2]
        shifts = torch.randint(-cfg.time_shift, cfg.time_shift + 1, (batch,),
                               generator=generator)
        if shifts.any():
            index = (torch.arange(frames)[None, :] + shifts[:, None]).clamp(0, frames - 1)
            gather = index.view(batch, 1, frames, 1, 1)
            rgb = rgb.gather(2, gather.expand(-1, rgb.shape[1], -1, *rgb.shape[3:]))
            flow = flow.gather(2, gather.expand(-1, flow.shape[1], -1, *flow.shape[3:]))
    return rgb, flow, text_ids
