"""Engine fixtures: a model built from the toy checkpoint, the toy dataset and a loaded batch."""
import pytest
import torch

MODEL_CFG = dict(type='UniPixelModel', trainable=['seg_head'],
                 data_preprocessor=dict(type='UniPixelDataPreprocessor', min_pixels=56 * 56, max_pixels=112 * 112))


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
    import unipixel_plugin.engine  # noqa: F401
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
