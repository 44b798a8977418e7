"""The toy scenes: deterministic, every object visible, readable by the project's own readers."""
import json

import numpy as np
import pytest

from unipixel_plugin.toy.scenes import load_manifest, sample_scene, render, write_scenes


def test_scene_objects_stay_visible_and_expressions_are_unique():
    rng = np.random.default_rng(3)
    for _ in range(5):
        scene = sample_scene(rng, 'x', 112, num_frames=6)
        frames, visible = render(scene)
        assert frames.shape == (6, 112, 112, 3) and visible.shape == (len(scene.objects), 6, 112, 112)
        assert 3 <= len(scene.objects) <= 4 and visible.reshape(len(scene.objects), 6, -1).any(-1).all()
        texts = [t for o in scene.objects for t, _ in o.expressions]
        assert len(texts) == len(set(texts))  # an expression names one object of its scene


def test_write_scenes_is_deterministic_and_read_by_the_readers(tmp_path):
    from unipixel_plugin.data.formats import MeViSDataset, VideoReferQADataset, VideoReferShortCaptionRefDataset
    from unipixel_plugin.data.pipeline import load_sample
    a = write_scenes(tmp_path / 'a', num_images=2, num_videos=1, num_frames=4, seed=5)
    b = write_scenes(tmp_path / 'b', num_images=2, num_videos=1, num_frames=4, seed=5)
    for rel in ('mevis/train/meta_expressions.json', 'mevis/train/mask_dict.json', 'toy_scenes.json'):
        assert (a / rel).read_text() == (b / rel).read_text()
    seg = MeViSDataset(data_root=str(a), split='train')
    types = {s.data_type for s in seg}
    assert types == {'seg_image', 'seg_video'}
    loaded = load_sample(seg[0], np.random.default_rng(0), num_frames=0)
    assert loaded.masks.shape[0] == 1 and loaded.masks.any()
    ref = VideoReferShortCaptionRefDataset(data_root=str(a))
    qa = VideoReferQADataset(data_root=str(a))
    assert len(ref) == len(qa) == 2 * sum(len(s['objects']) for s in load_manifest(a)['scenes'])
    assert '<|ref|>' in ref[0].conversation[0]['content'] and qa[0].data_type == 'region_video'  # the reader's type, 1-frame or not
    answers = {s.conversation[1]['content'] for s in qa}
    assert answers <= {'red', 'green', 'blue', 'yellow', 'purple', 'circle', 'square', 'triangle'}
    json.loads((a / 'toy_scenes.json').read_text())


@pytest.mark.parametrize('size', [64, 128])
def test_micro_sam2_follows_d_model(size):
    import torch

    from unipixel_plugin.engine.sam2_tracking import track_for_training
    from unipixel_plugin.models.sam2_extension import build_sam2
    from unipixel_plugin.toy.model import micro_sam2_overrides
    sam2 = build_sam2('configs/sam2.1_hiera_t', size, overrides=micro_sam2_overrides(image_size=size))
    assert sam2.hidden_dim == 64 and sam2.mem_dim == 32
    out = track_for_training(sam2.train(), torch.randn(2, 3, size, size), torch.randn(1, 2, 64))
    assert len(out) == 2 and out[1].multimasks.shape[-1] == size
