"""UniPixelModel built from config dicts: what trains, losses that go down, predict / tensor modes, errors."""
import pytest
import torch
from mmengine.optim import OptimWrapper


def test_build_from_registry_trains_only_what_is_configured(build_model):
    from unipixel_plugin.engine import UniPixelDataPreprocessor, UniPixelModel
    model = build_model()
    assert isinstance(model, UniPixelModel) and isinstance(model.data_preprocessor, UniPixelDataPreprocessor)
    names = model.trainable_parameter_names()
    assert names and all(n.startswith('hf_model.seg_head.') for n in names)
    # trainable-only checkpoints: exactly the trainable tensors
    assert sorted(model.state_dict()) == sorted(names)
    # and loading one reports no missing frozen weights
    result = model.load_state_dict(model.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys


def test_full_state_dict_when_asked(build_model):
    model = build_model(save_trainable_only=False)
    assert len(model.state_dict()) > 500  # LLM + ViT + SAM 2 + UniPixel modules


def test_bad_settings_raise_with_guidance(build_model, toy_ckpt):
    from unipixel_plugin.registry import MODELS
    with pytest.raises(ValueError, match='match no parameter'):
        build_model(trainable=['seg_haed'])
    with pytest.raises(ValueError, match='exactly one of pretrained'):
        MODELS.build(dict(type='UniPixelModel'))
    with pytest.raises(ValueError, match='export UNIPIXEL_QWEN_3B'):
        MODELS.build(dict(type='UniPixelModel', base_model=dict(path='unset-UNIPIXEL_QWEN_3B')))
    model = build_model()
    with pytest.raises(ValueError, match="mode='bogus'"):
        model(None, None, mode='bogus')


def test_labels_and_mask_targets(build_model, seg_batch):
    from unipixel_plugin.engine import IGNORE_INDEX
    model = build_model()
    data = model.data_preprocessor(seg_batch, training=True)['data']
    tokenizer = model.data_preprocessor.processor.tokenizer
    for b in range(2):
        labels = data['labels'][b]
        supervised = tokenizer.decode(labels[labels != IGNORE_INDEX])
        assert supervised == 'Sure, it is <|seg|>.<|im_end|>'
        # everything before the answer, padding included, is ignored
        first = int((labels != IGNORE_INDEX).nonzero()[0])
        header = len(model.data_preprocessor.assistant_header)
        assert tokenizer.decode(data['input_ids'][b, first - header:first]) == '<|im_start|>assistant\n'
        assert (labels[:first - header] == IGNORE_INDEX).all()
    target = data['label_mask'][0]
    gt = seg_batch['masks'][0]  # (O, T, H, W)
    assert target.shape == (2, 1, 128, 128) and target.dtype == torch.bool
    # same object area share after the resize to the SAM 2 input (bilinear + "> 0" grows edges by a pixel at most)
    share = gt[0, 0].float().mean()
    assert abs(target[0, 0].float().mean() - share) < 0.05 and target[0, 0].any()


def test_seg_head_loss_decreases(build_model, seg_batch):
    model = build_model()
    model.train()
    optim = OptimWrapper(torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3))
    logs = [model.train_step(seg_batch, optim) for _ in range(3)]
    seg = [float(log['loss_seg'].detach()) for log in logs]
    lm = [float(log['loss_lm'].detach()) for log in logs]
    assert seg[-1] < seg[0] - 0.2, seg  # seen: 13.32 -> 13.01 -> 12.64
    assert lm[0] == pytest.approx(lm[-1], abs=1e-5)  # the LLM is frozen
    assert set(logs[0]) >= {'loss', 'loss_lm', 'loss_seg', 'seg_focal', 'seg_dice', 'seg_iou', 'seg_cls'}


def test_llm_loss_decreases_when_llm_trains(build_model, seg_batch):
    model = build_model(trainable=['model.language_model'], mask_loss=None)
    model.train()
    optim = OptimWrapper(torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3))
    lm = [float(model.train_step(seg_batch, optim)['loss_lm'].detach()) for _ in range(4)]
    assert lm[-1] < lm[0] - 0.5, lm


def test_predict_and_tensor_modes(build_model, seg_batch, collate, toy_dataset):
    model = build_model()
    seg_id = model.hf_model.config.seg_token_id

    def favour_seg(module, args, logits):  # the random tiny model would rarely say <|seg|> on its own
        logits[..., seg_id] += 100.0
        return logits

    model.generation.update(max_new_tokens=2)
    model.eval()
    handle = model.hf_model.lm_head.register_forward_hook(favour_seg)
    try:
        results = model.val_step(collate([toy_dataset[0]]))
    finally:
        handle.remove()
    assert len(results) == 1
    result = results[0]
    frames = toy_dataset[0].frames
    assert result['id'] == toy_dataset[0].key and result['text'] == '<|seg|><|seg|>'
    # one decoded mask per generated <|seg|>, at the original frame size, for every frame
    assert result['pred_masks'].dtype == torch.bool and result['pred_masks'].shape == (2, *frames.shape[:3])
    assert result['gt_masks'].shape == (1, *frames.shape[:3])

    data = model.data_preprocessor(seg_batch, training=False)
    logits = model(**data, mode='tensor')
    assert logits.shape[:2] == data['data']['input_ids'].shape and logits.shape[-1] == 300
