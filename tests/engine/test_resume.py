"""Training with the MMEngine Runner on the tiny CPU config, then resuming from a checkpoint (torch >= 2.6)."""
import os.path as osp

import torch
from mmengine.hooks import Hook

CONFIG = osp.join(osp.dirname(__file__), '..', '..', 'configs', 'unipixel_tiny_cpu_seg.py')


def tiny_cfg(work_dir, max_iters, **extra):
    from mmengine.config import Config
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = str(work_dir)
    cfg.train_cfg.max_iters = max_iters
    cfg.default_hooks.checkpoint.interval = 1
    cfg.train_dataloader.batch_size = 1
    cfg.train_dataloader.sampler.batch_size = 1
    cfg.custom_hooks = []  # export is tested elsewhere
    cfg.log_level = 'WARNING'
    cfg.merge_from_dict(extra)
    return cfg


class Snapshot(Hook):
    """Records the runner's state when training (re)starts, i.e. after resume."""

    def before_train(self, runner):
        model = runner.model
        self.iter = runner.iter
        self.seg_head = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.sam2_weight = model.hf_model.sam2.sam_mask_decoder.iou_prediction_head.layers[0].weight.detach().clone()
        state = runner.optim_wrapper.optimizer.state
        self.steps = sorted({int(s['step']) for s in state.values()})
        self.loss_history = len(runner.message_hub.get_scalar('train/loss').data[0])


def test_resume_continues_where_training_stopped(tmp_path, toy_root):
    from mmengine.runner import Runner
    from unipixel_plugin.engine.checkpoint_loading import load_from_local_safe
    from unipixel_plugin.models import PixelQwen2_5_VLForConditionalGeneration

    first = Runner.from_cfg(tiny_cfg(tmp_path, max_iters=2))
    first.train()
    ckpt = tmp_path / 'iter_2.pth'
    assert ckpt.is_file() and (tmp_path / 'iter_1.pth').is_file()
    # torch >= 2.6 loads it weights-only, message hub included
    saved = load_from_local_safe(str(ckpt), map_location='cpu')
    assert saved['meta']['iter'] == 2 and 'message_hub' in saved and 'optimizer' in saved
    assert saved['state_dict'] and all(k.startswith('hf_model.seg_head.') for k in saved['state_dict'])

    second = Runner.from_cfg(tiny_cfg(tmp_path, max_iters=3, resume=True, load_from=str(ckpt)))
    snapshot = Snapshot()
    second.register_hook(snapshot)
    second.train()

    assert snapshot.iter == 2 and second.iter == 3 and (tmp_path / 'iter_3.pth').is_file()
    assert snapshot.steps == [2]  # AdamW moments continue, they did not restart
    assert snapshot.loss_history == 2  # the message hub's logs came back too
    for key, value in saved['state_dict'].items():
        assert torch.equal(snapshot.seg_head[key], value), key
    # frozen weights are the pretrained ones (they are not in the checkpoint, and not lost)
    pretrained = PixelQwen2_5_VLForConditionalGeneration.from_pretrained(second.model.pretrained)
    expected = pretrained.sam2.sam_mask_decoder.iou_prediction_head.layers[0].weight
    assert torch.equal(snapshot.sam2_weight, expected)
    # and training moved the trainable ones on after the resume
    last = load_from_local_safe(str(tmp_path / 'iter_3.pth'), map_location='cpu')['state_dict']
    assert any(not torch.equal(last[k], saved['state_dict'][k]) for k in last)


def test_plain_torch_load_still_refuses_arbitrary_globals(tmp_path):
    """The allow-list is narrow: getattr is only allowed inside MMEngine's checkpoint loader."""
    import pickle

    import pytest

    import unipixel_plugin.engine  # noqa: F401
    path = tmp_path / 'x.pth'
    torch.save({'f': getattr(torch.nn.Linear, 'forward')}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)
