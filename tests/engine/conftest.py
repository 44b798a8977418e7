"""Engine fixtures: the toy checkpoint and data in a temporary toy root, a model built from them, a loaded batch."""
import os

import pytest
import torch

MODEL_CFG = dict(type='UniPixelModel', trainable=['seg_head'],
                 data_preprocessor=dict(type='UniPixelDataPreprocessor', min_pixels=56 * 56, max_pixels=112 * 112))


@pytest.fixture(scope='session')
def toy_root(tmp_path_factory):
    """A private toy root, also exported as UNIPIXEL_TOY_ROOT so that configs' ``pretrained='toy'`` find it."""
    from unipixel_plugin.engine.toy import TOY_ROOT_ENV, ensure_toy_checkpoint, ensure_toy_data
    root = tmp_path_factory.mktemp('toy_root')
    ensure_toy_checkpoint(str(root))
    ensure_toy_data(str(root))
    previous = os.environ.get(TOY_ROOT_ENV)
    os.environ[TOY_ROOT_ENV] = str(root)
    yield root
    if previous is None:
        os.environ.pop(TOY_ROOT_ENV, None)
    else:
        os.environ[TOY_ROOT_ENV] = previous


@pytest.fixture(scope='session')
def toy_ckpt(toy_root):
    from unipixel_plugin.engine.toy import ensure_toy_checkpoint
    return ensure_toy_checkpoint(str(toy_root))


@pytest.fixture
def build_model(toy_ckpt):
    """``build_model(**overrides)`` -> a fresh UniPixelModel from the registry (training tests mutate it)."""
    from unipixel_plugin.registry import MODELS

    def build(**overrides):
        torch.manual_seed(0)
        cfg = dict(MODEL_CFG, pretrained=str(toy_ckpt))
        cfg.update(overrides)
        return MODELS.build(cfg)

    return build


@pytest.fixture(scope='session')
def toy_dataset(toy_root):
    from unipixel_plugin.registry import DATASETS
    import unipixel_plugin.engine  # noqa: F401  (registers ToyRefVOSDataset)
    return DATASETS.build(dict(type='HybridDataset', datasets=[dict(type='ToyRefVOSDataset', root=str(toy_root))],
                               num_frames=2, seed=0))


@pytest.fixture(scope='session')
def collate():
    from unipixel_plugin.data import unipixel_collate
    return unipixel_collate


@pytest.fixture(scope='session')
def seg_batch(toy_dataset, collate):
    """Two referring samples of 2 frames each, collated."""
    return collate([toy_dataset[0], toy_dataset[4]])
