"""MMEngine registries of the unipixel_plugin scope, components built from config dicts, and the lmms-eval entry."""
import importlib
import importlib.metadata

import pytest
import torch


def test_every_registry_is_a_scoped_child_of_mmengine():
    import mmengine.registry as root

    import unipixel_plugin.registry as ours
    for name in ours.__all__[1:]:
        registry = getattr(ours, name)
        assert registry.scope == 'unipixel_plugin', name
        assert registry.parent is getattr(root, name), name
        for location in registry._locations:
            assert location.startswith('unipixel_plugin.'), (name, location)


def test_components_build_from_config_dicts():
    from unipixel_plugin.registry import MODELS
    encoder = MODELS.build(dict(type='VisualPromptEncoder', llm_dim=32, sam_dim=256, image_size=256))
    head = MODELS.build(dict(type='SegTokenHead', llm_dim=32, hidden_tokens=2))
    assert head(torch.zeros(3, 32)).shape == (3, 2, 256)
    coords = [torch.tensor([[[10.0, 20.0]]]), torch.tensor([[[5, 5], [60, 80]]], dtype=torch.int32)]
    labels = [torch.tensor([[1]]), torch.tensor([[2, 3]])]
    out = encoder(coords, labels, torch.tensor([0, 3]), num_frames=4)
    assert out.shape == (2, 32) and torch.isfinite(out).all()
    proj = MODELS.build(dict(type='MaskFeatureProjector', in_dim=128, llm_dim=32))
    assert proj(torch.zeros(2, 128)).shape == (2, 32)


def test_object_memory_bank_and_model_are_registered():
    from unipixel_plugin.models import ObjectMemoryBank, PixelQwen2_5_VLForConditionalGeneration
    from unipixel_plugin.registry import MODELS
    assert MODELS.get('PixelQwen2_5_VLForConditionalGeneration') is PixelQwen2_5_VLForConditionalGeneration
    assert MODELS.get('ObjectMemoryBank') is ObjectMemoryBank
    bank = MODELS.build(dict(type='ObjectMemoryBank'))
    assert isinstance(bank, ObjectMemoryBank) and len(bank) == 0
    assert MODELS.get('SAM2MaskHead') is not None


@pytest.mark.slow
def test_sam2_mask_head_builds_from_config_and_decodes():
    from unipixel_plugin.registry import MODELS
    head = MODELS.build(dict(type='SAM2MaskHead', llm_dim=32, sam2_config='configs/sam2.1_hiera_t', image_size=128))
    frames = torch.randn(3, 3, 128, 128)
    out = list(head.decode(torch.randn(32), frames, (40, 50)))
    assert [i for i, _ in out] == [0, 1, 2] and out[0][1].shape == (40, 50)


def test_sam2_config_names_map_onto_the_package():
    from unipixel_plugin.models.sam2_extension import resolve_sam2_config
    assert resolve_sam2_config('configs/sam2.1_hiera_b+') == 'configs/sam2.1/sam2.1_hiera_b+.yaml'
    assert resolve_sam2_config('sam2_hiera_t') == 'configs/sam2/sam2_hiera_t.yaml'
    with pytest.raises(ValueError, match='Unknown SAM 2 config'):
        resolve_sam2_config('configs/sam3_hiera_x')


def test_lmms_eval_entry_point_resolves_to_the_adapter():
    eps = [ep for ep in importlib.metadata.entry_points(group='lmms_eval.models') if ep.name == 'unipixel']
    assert eps, 'unipixel_plugin is not installed (pip install .): the lmms_eval.models entry point is missing'
    manifest = eps[0].load()()
    assert manifest.model_id == 'unipixel'
    module, cls = manifest.chat_class_path.rsplit('.', 1)
    adapter = getattr(importlib.import_module(module), cls)
    from lmms_eval.api.model import lmms
    assert issubclass(adapter, lmms) and adapter.is_simple is False



@pytest.mark.slow
def test_lmms_eval_adapter_answers_a_chat_request(tiny_ckpt, force_seg):
    from lmms_eval.api.instance import Instance
    from PIL import Image

    from unipixel_plugin.evaluation.lmms.adapter import UniPixelLMM
    model = UniPixelLMM(pretrained=str(tiny_ckpt), device='cpu', max_new_tokens=3, min_pixels=56 * 56,
                        max_pixels=112 * 112)
    doc = {'image': Image.new('RGB', (90, 60), (200, 30, 30)), 'question': 'What colour is it?'}
    model.task_dict = {'toy': {'test': [doc]}}

    def to_messages(d):
        return [{'role': 'user', 'content': [{'type': 'image', 'url': d['image']},
                                             {'type': 'text', 'text': d['question']}]}]
    request = Instance(request_type='generate_until', arguments=('', to_messages, {'max_new_tokens': 2}, 0, 'toy',
                                                                  'test'), idx=0,
                       metadata={'task': 'toy', 'doc_id': 0, 'repeats': 1})
    [answer] = model.generate_until([request])
    assert isinstance(answer, str)
    ids = model.predictor.processor.tokenizer(answer, add_special_tokens=False)['input_ids']
    assert 0 < len(ids) <= 6  # two generated tokens (a byte-level token may decode to a few characters)
    with pytest.raises(NotImplementedError, match='generation'):
        model.loglikelihood([request])

    # the mask path: boost <|seg|> after the first generated token (a hook on lm_head: the raw logits the model
    # checks agree with greedy decoding), so the answer carries masks and comes back as JSON with COCO RLE
    import json

    import numpy as np

    from unipixel_plugin.masks import decode_rle
    with force_seg(model.predictor.model, from_call=2):
        [answer] = model.generate_until([request])
    record = json.loads(answer)
    assert '<|seg|>' in record['answer'] and record['frame_indices'] == [0]
    assert len(record['masks']) == record['answer'].count('<|seg|>') >= 1
    mask = decode_rle(record['masks'][0][0])
    assert mask.shape == (60, 90) and mask.dtype == np.bool_
