"""SAM 2 mask loss values and gradients through the training-time tracker."""
import pytest
import torch

from unipixel_plugin.engine.mask_loss import FrameMaskOutput, SAM2MaskLoss, dice_loss, mask_iou, sigmoid_focal_loss


def _target(n=1, size=16):
    target = torch.zeros(1, n, size, size, dtype=torch.bool)
    target[0, :, 4:12, 4:8] = True  # 32 of 256 pixels
    return target


def test_terms_match_hand_computed_values():
    target = _target()
    logits = torch.zeros(1, 1, 16, 16)  # p = 0.5 everywhere
    out = FrameMaskOutput(logits, torch.tensor([[0.3]]), torch.tensor([[0.0]]))
    terms = SAM2MaskLoss()([out], target)
    # focal at p=0.5: ce = ln 2, (1 - p_t)^2 = 0.25, alpha 0.25 on the 32 positives, 0.75 on the 224 negatives
    focal = torch.log(torch.tensor(2.0)) * 0.25 * (0.25 * 32 + 0.75 * 224) / 256
    dice = 1 - (2 * 0.5 * 32 + 1) / (0.5 * 256 + 32 + 1)
    iou = abs(0.3 - 0.0)
    cls = torch.log(torch.tensor(2.0))  # object present, logit 0
    assert float(terms['focal']) == pytest.approx(float(focal), rel=1e-5)
    assert float(terms['dice']) == pytest.approx(dice, rel=1e-5)
    assert float(terms['iou']) == pytest.approx(iou, rel=1e-5)
    assert float(terms['cls']) == pytest.approx(float(cls), rel=1e-5)
    expected = 100 * focal + 5 * dice + 5 * iou + 5 * cls
    assert float(terms['loss']) == pytest.approx(float(expected), rel=1e-5)


def test_best_candidate_is_supervised_and_absent_objects_only_get_the_class_term():
    target = _target()
    good = torch.where(target[0, 0], 20.0, -20.0)
    multimasks = torch.stack([-good, good, torch.zeros_like(good)])[None]  # (1, 3, S, S): the 2nd one is right
    # true IoUs are 0, 1, 0; predicted 0.5, 1.0, 0.25
    out = FrameMaskOutput(multimasks, torch.tensor([[0.5, 1.0, 0.25]]), torch.tensor([[20.0]]))
    terms = SAM2MaskLoss()([out], target)
    assert float(terms['focal']) < 1e-6 and float(terms['dice']) < 0.01
    assert float(terms['iou']) == pytest.approx((0.5 + 0 + 0.25) / 3, abs=1e-6)  # every candidate's IoU error
    # an absent object: only the object score is penalised (present logit 20 -> large BCE)
    absent = SAM2MaskLoss()([out], torch.zeros_like(target))
    assert float(absent['focal']) == 0 and float(absent['dice']) == 0 and float(absent['iou']) == 0
    assert float(absent['cls']) == pytest.approx(20.0, rel=1e-3)


def test_divided_by_frames():
    target = _target().repeat(3, 1, 1, 1)
    out = FrameMaskOutput(torch.zeros(1, 1, 16, 16), torch.zeros(1, 1), torch.zeros(1, 1))
    one = SAM2MaskLoss()([out], target[:1])['loss']
    three = SAM2MaskLoss()([out] * 3, target)['loss']
    assert float(three) == pytest.approx(float(one), rel=1e-6)
    assert float(SAM2MaskLoss(divide_by_frames=False)([out] * 3, target)['loss']) == pytest.approx(3 * float(one))


def test_helpers_shapes():
    logits, target = torch.randn(2, 3, 8, 8), (torch.rand(2, 3, 8, 8) > 0.5).float()
    assert dice_loss(logits, target).shape == (2, 3) and mask_iou(logits, target).shape == (2, 3)
    assert sigmoid_focal_loss(logits, target).shape == logits.shape


def test_tracking_carries_gradients_from_later_frames(toy_ckpt):
    from unipixel_plugin.engine.sam2_tracking import track_for_training
    from unipixel_plugin.models import PixelQwen2_5_VLForConditionalGeneration
    model = PixelQwen2_5_VLForConditionalGeneration.from_pretrained(str(toy_ckpt)).train()
    model.requires_grad_(False)
    torch.manual_seed(0)
    hidden = torch.randn(2, 2, 256, requires_grad=True)
    outputs = track_for_training(model.sam2, torch.randn(3, 3, 128, 128), hidden)
    assert len(outputs) == 3
    assert outputs[0].multimasks.shape == (2, 3, 128, 128) and outputs[0].ious.shape == (2, 3)
    assert outputs[2].object_score_logits.shape == (2, 1)
    # frame 2 is prompted only through memory and object pointers of frames 0-1: its loss still reaches the prompt
    outputs[2].multimasks.sum().backward()
    assert hidden.grad is not None and hidden.grad.abs().sum() > 0
