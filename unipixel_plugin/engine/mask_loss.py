"""UniPixel's SAM 2 mask loss: focal + dice + IoU-prediction + object-score losses over tracked frames.

Same semantics as the SAM 2 training loss upstream UniPixel uses (``MultiStepMultiMasksAndIous`` with weights
focal 100, dice 5, IoU 5, class 5; ``supervise_all_iou=True``, L1 IoU loss, object scores supervised, focal
alpha 0.25 / gamma 2, plain BCE for object scores), written here so that training does not import sam2's
``training`` package. Per frame and object, focal and dice are taken from the candidate mask with the lowest
``100 * focal + 5 * dice``; mask, dice and IoU terms count only where the object is present on the frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from unipixel_plugin.registry import MODELS


def sigmoid_focal_loss(logits: torch.Tensor, targets: torch.Tensor, alpha: float = 0.25,
                       gamma: float = 2.0) -> torch.Tensor:
    """Element-wise focal loss (RetinaNet); ``alpha < 0`` disables the class balance. Same shape as ``logits``."""
    prob = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction='none')
    p_t = prob * targets + (1 - prob) * (1 - targets)
    loss = ce * (1 - p_t)**gamma
    if alpha >= 0:
        loss = loss * (alpha * targets + (1 - alpha) * (1 - targets))
    return loss


def dice_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``(N, M, H, W)`` logits and targets -> ``(N, M)`` soft dice loss with +1 smoothing."""
    prob = logits.sigmoid().flatten(2)
    targets = targets.flatten(2)
    return 1 - (2 * (prob * targets).sum(-1) + 1) / (prob.sum(-1) + targets.sum(-1) + 1)


def mask_iou(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """IoU of the binarised predictions (``logits > 0``) with the targets: ``(N, M, H, W)`` -> ``(N, M)``."""
    pred = logits.flatten(2) > 0
    gt = targets.flatten(2) > 0
    inter = (pred & gt).sum(-1).float()
    union = (pred | gt).sum(-1).float()
    return inter / union.clamp(min=1.0)


@dataclass
class FrameMaskOutput:
    """SAM 2 outputs of one tracked frame for ``N`` objects.

    Attributes:
        multimasks: ``(N, M, S, S)`` mask logits at the SAM 2 input size (``M`` = 3 candidates or 1).
        ious: ``(N, M)`` predicted IoUs.
        object_score_logits: ``(N, 1)`` "object present" logits.
    """
    multimasks: torch.Tensor
    ious: torch.Tensor
    object_score_logits: torch.Tensor


@MODELS.register_module()
class SAM2MaskLoss(nn.Module):
    """Multi-mask SAM 2 loss summed over frames, as upstream UniPixel trains its mask decoder.

    Args:
        focal_weight / dice_weight / iou_weight / class_weight: term weights (upstream: 100 / 5 / 5 / 5).
        focal_alpha / focal_gamma: focal loss parameters for masks (0.25 / 2).
        supervise_all_iou: IoU loss on every candidate (True upstream) instead of the chosen one.
        divide_by_frames: divide the weighted sum by the number of frames (upstream does).
    """

    def __init__(self, focal_weight: float = 100.0, dice_weight: float = 5.0, iou_weight: float = 5.0,
                 class_weight: float = 5.0, focal_alpha: float = 0.25, focal_gamma: float = 2.0,
                 supervise_all_iou: bool = True, divide_by_frames: bool = True):
        super().__init__()
        self.weights = dict(focal=focal_weight, dice=dice_weight, iou=iou_weight, cls=class_weight)
        self.focal_alpha, self.focal_gamma = focal_alpha, focal_gamma
        self.supervise_all_iou = supervise_all_iou
        self.divide_by_frames = divide_by_frames

    def forward(self, outputs: list[FrameMaskOutput], targets: torch.Tensor) -> dict[str, torch.Tensor]:
        """
        Args:
            outputs: one :class:`FrameMaskOutput` per frame, in frame order.
            targets: ``(T, N, S, S)`` bool ground-truth masks at the SAM 2 input size.
        Returns:
            dict with ``loss`` (weighted, divided by frames if configured) and the unweighted sums
            ``focal``, ``dice``, ``iou``, ``cls`` (each already divided by the number of objects).
        """
        if len(outputs) != targets.size(0):
            raise ValueError(f'{len(outputs)} tracked frames but targets hold {targets.size(0)} frames')
        num_objects = max(targets.size(1), 1)
        terms = dict(focal=0.0, dice=0.0, iou=0.0, cls=0.0)
        for out, target in zip(outputs, targets):
            for key, value in self._frame_terms(out, target.float(), num_objects).items():
                terms[key] = terms[key] + value
        loss = sum(self.weights[k] * v for k, v in terms.items())
        if self.divide_by_frames:
            loss = loss / targets.size(0)
        zero = targets.new_zeros((), dtype=torch.float32)
        return dict(loss=loss, **{k: (v if torch.is_tensor(v) else zero + v) for k, v in terms.items()})

    def _frame_terms(self, out: FrameMaskOutput, target: torch.Tensor, num_objects: int) -> dict:
        logits = out.multimasks.float()
        if logits.shape[-2:] != target.shape[-2:]:
            raise ValueError(f'predicted masks are {tuple(logits.shape[-2:])} but targets {tuple(target.shape[-2:])}: '
                             'resize targets to the SAM 2 input size')
        target = target[:, None].expand_as(logits)  # (N, M, S, S)
        focal = sigmoid_focal_loss(logits, target, self.focal_alpha, self.focal_gamma).flatten(2).mean(-1)
        dice = dice_loss(logits, target)
        iou = (out.ious.float() - mask_iou(logits, target)).abs()
        present = target[:, 0].flatten(1).any(-1, keepdim=True).float()  # (N, 1)
        cls = F.binary_cross_entropy_with_logits(out.object_score_logits.float(), present, reduction='none')
        if logits.size(1) > 1:
            best = (focal * self.weights['focal'] + dice * self.weights['dice']).argmin(-1, keepdim=True)
            focal, dice_best = focal.gather(1, best), dice.gather(1, best)
            iou = iou.mean(-1, keepdim=True) if self.supervise_all_iou else iou.gather(1, best)
            dice = dice_best
        return dict(focal=(focal * present).sum() / num_objects, dice=(dice * present).sum() / num_objects,
                    iou=(iou * present).sum() / num_objects, cls=cls.mean(-1).sum() / num_objects)


__all__ = ['SAM2MaskLoss', 'FrameMaskOutput', 'sigmoid_focal_loss', 'dice_loss', 'mask_iou']
