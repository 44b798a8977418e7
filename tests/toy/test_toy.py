"""The procedural toy fixture: deterministic, created once, readable by the Ref-VOS parser with faithful masks."""
import json

import numpy as np


def test_toy_data_is_deterministic_and_created_once(tmp_path):
    from unipixel_plugin.toy.refvos import ensure_toy_data
    a = ensure_toy_data(str(tmp_path / 'a'), num_videos=2, num_frames=3, seed=1)
    b = ensure_toy_data(str(tmp_path / 'b'), num_videos=2, num_frames=3, seed=1)
    for rel in ('toy_refvos/train/meta_expressions.json', 'toy_refvos/train/mask_dict.json'):
        assert (a / rel).read_text() == (b / rel).read_text()
    stamp = (a / '.complete').stat().st_mtime_ns
    assert ensure_toy_data(str(tmp_path / 'a'), num_videos=2, num_frames=3, seed=1) == a
    assert (a / '.complete').stat().st_mtime_ns == stamp  # reused, not rewritten
    assert not [p for p in a.parent.iterdir() if '.tmp-' in p.name]  # no temporary folders left behind
    meta = json.loads((a / 'toy_refvos/valid/meta_expressions.json').read_text())['videos']
    assert len(meta) == 2 and all(len(v['frames']) == 3 and len(v['expressions']) == 3 for v in meta.values())


def test_toy_dataset_loads_through_the_data_pipeline(toy_root):
    from unipixel_plugin.data import load_sample
    from unipixel_plugin.toy.refvos import ToyRefVOSDataset
    dataset = ToyRefVOSDataset(root=str(toy_root), split='train')
    assert len(dataset) == 18  # 6 videos x 3 expressions
    sample = dataset[2]  # "the two shapes": the union of both objects
    assert sample.data_type == 'seg_video' and sample.query == 'the two shapes'
    assert sample.conversation[1]['content'] == 'Sure, it is <|seg|>.'
    loaded = load_sample(sample, np.random.default_rng(0), num_frames=0)
    assert loaded.frames.shape == (6, 96, 128, 3) and loaded.masks.shape == (1, 6, 96, 128)
    single = [load_sample(dataset[i], np.random.default_rng(0), num_frames=0).masks for i in (0, 1)]
    assert np.array_equal(loaded.masks, single[0] | single[1])
    # the masked pixels show the object's colour (the JPEG keeps it within a tolerance)
    colour = dataset[0].query.split()[1]
    from unipixel_plugin.toy.refvos import COLOURS
    frame, mask = loaded.frames[0], single[0][0, 0]
    inner = mask & np.roll(mask, 2, 0) & np.roll(mask, -2, 0) & np.roll(mask, 2, 1) & np.roll(mask, -2, 1)
    assert np.abs(frame[inner].mean(0) - np.array(COLOURS[colour])).max() < 25


def test_micro_init_is_named_by_its_config(tmp_path, monkeypatch):
    """A changed micro config gets its own initialisation folder instead of an older one from the cache."""
    from unipixel_plugin.toy import model
    from unipixel_plugin.toy.cache import ensure_micro_checkpoint
    first = ensure_micro_checkpoint(str(tmp_path))
    config = json.loads((first / 'config.json').read_text())
    assert config['mem_window_order'] is False  # <|mem|> pools in refer_mask's raster order
    assert first.name.startswith('micro-init-s0-') and ensure_micro_checkpoint(str(tmp_path)) == first
    original = model.micro_config
    monkeypatch.setattr(model, 'micro_config', lambda **kw: original(**{'rope_theta': 2.0, **kw}))
    second = ensure_micro_checkpoint(str(tmp_path))
    assert second != first and json.loads((second / 'config.json').read_text())['rope_theta'] == 2.0


def test_toy_checkpoint_carries_the_frame_size_it_was_trained_at(toy_checkpoint):
    """The toy's config.json holds its LLM frame size, so a predictor (CLI, lmms-eval adapter) given no pixel
    bounds sees frames as in training; a checkpoint without the field keeps upstream's budget."""
    from unipixel_plugin.evaluation.lmms.adapter import UniPixelLMM
    from unipixel_plugin.inference import UniPixelPredictor
    from unipixel_plugin.models import PixelQwen2_5_VLConfig
    from unipixel_plugin.toy.model import LLM_PIXELS

    config = json.loads((toy_checkpoint / 'config.json').read_text())
    assert config['llm_pixels'] == [LLM_PIXELS, LLM_PIXELS]
    predictor = UniPixelPredictor.from_pretrained(str(toy_checkpoint), device='cpu', dtype='float32')
    assert predictor.inputs.bounds(1) == (LLM_PIXELS, LLM_PIXELS)
    lmm = UniPixelLMM(pretrained=str(toy_checkpoint), device='cpu', dtype='float32')
    assert lmm.predictor.inputs.bounds(4) == (LLM_PIXELS, LLM_PIXELS)
    given = UniPixelPredictor(predictor.model, predictor.processor, min_pixels=4 * LLM_PIXELS,
                              max_pixels=4 * LLM_PIXELS)
    assert given.inputs.bounds(1) == (4 * LLM_PIXELS, 4 * LLM_PIXELS)  # explicit bounds win
    assert PixelQwen2_5_VLConfig().llm_pixels is None
