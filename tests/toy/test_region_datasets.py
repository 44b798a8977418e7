"""The toy's region-question datasets: the scenes' questions through the VideoRefer-700K readers, asked in the very
text the predictor sends (so a model trained on them is trained on what the benchmarks and the CLI ask)."""
import numpy as np
import pytest

from unipixel_plugin.toy.scenes import QUESTIONS, load_manifest


@pytest.fixture(scope='module')
def heldout_root(tmp_path_factory):
    from unipixel_plugin.toy.cache import ensure_toy_scenes
    return ensure_toy_scenes(str(tmp_path_factory.mktemp('toy')), split='valid_u')


def _truth(root):
    """(scene name, object index, topic) -> the answer, from the scenes' ground truth."""
    out = {}
    for scene in load_manifest(root)['scenes']:
        for i, obj in enumerate(scene['objects']):
            out[(scene['name'], i, 'colour')] = obj['colour']
            out[(scene['name'], i, 'shape')] = obj['shape']
    return out


def test_point_and_box_questions_are_asked_as_the_predictor_asks_them(heldout_root, toy_predictor):
    from unipixel_plugin.data.hybrid import HybridDataset
    from unipixel_plugin.inference import PromptObject
    from unipixel_plugin.inference.predictor import Request
    from unipixel_plugin.toy.datasets import ToyRegionRefDataset

    root = heldout_root.parent
    ref = ToyRegionRefDataset(root=str(root), split='valid_u', media='image')
    truth = _truth(heldout_root)
    images = sum(len(s['objects']) for s in load_manifest(heldout_root)['scenes'] if s['kind'] == 'image')
    assert len(ref) == 2 * images
    assert {s.data_type for s in ref} == {'ref_point', 'ref_box'}
    image = np.zeros((112, 112, 3), np.uint8)
    for sample in ref:
        name, obj, topic = sample.meta['qid'].split('/')
        assert '_image_' in name and sample.conversation[1]['content'] == truth[(name, int(obj), topic)]
        sent = toy_predictor._prepare(Request(image, QUESTIONS[topic], (PromptObject(point=(5.0, 5.0)),)),
                                      None, False).text
        assert sample.conversation[0]['content'] == sent  # e.g. 'What colour is [0] <|ref|>?'
    loaded = HybridDataset(datasets=[ref], num_frames=4, seed=0)[0]
    assert len(loaded.prompts) == 1 and loaded.prompts[0].kind in ('point', 'box')
    assert loaded.masks[0].any()  # the prompt was drawn on the object


def test_mask_questions_get_the_predictor_s_memory_prefix(heldout_root, toy_predictor):
    import torch

    from unipixel_plugin.data.collate import unipixel_collate
    from unipixel_plugin.data.hybrid import HybridDataset
    from unipixel_plugin.engine.data_preprocessor import UniPixelDataPreprocessor, split_batch
    from unipixel_plugin.inference.predictor import Request
    from unipixel_plugin.toy.datasets import ToyRegionMaskDataset
    from unipixel_plugin.toy.model import LLM_PIXELS

    qa = ToyRegionMaskDataset(root=str(heldout_root.parent), split='valid_u', media='image')
    truth = _truth(heldout_root)
    mixture = HybridDataset(datasets=[qa], num_frames=4, max_objects=8, seed=0)
    preprocessor = UniPixelDataPreprocessor(processor=toy_predictor.processor,
                                            sam2_image_size=toy_predictor.model.config.sam2_image_size,
                                            min_pixels=LLM_PIXELS, max_pixels=LLM_PIXELS)
    for index in (0, 5):
        loaded = mixture[index]
        name, obj, topic = loaded.meta['qid'].split('/')
        assert loaded.conversation[1]['content'] == truth[(name, int(obj), topic)]
        sample = split_batch(unipixel_collate([loaded]))[0]
        user = preprocessor.with_memory_prefix(sample, sample['conversation'])[0]['content']
        frame = (sample['frames'][0].numpy() if torch.is_tensor(sample['frames']) else sample['frames'][0])
        masks = [m[0].numpy() for m in sample['masks']]
        question = QUESTIONS[topic].replace('[0]', f'[{obj}]')
        sent = toy_predictor._prepare(Request(np.asarray(frame, np.uint8), question, masks=masks), None, False).text
        assert user == sent and user.count('<|mem|>') == len(masks) >= 3


def test_media_filter(heldout_root):
    from unipixel_plugin.toy.datasets import ToyRegionMaskDataset

    root = str(heldout_root.parent)
    counts = {m: len(ToyRegionMaskDataset(root=root, split='valid_u', media=m)) for m in ('image', 'video', 'all')}
    assert counts['image'] and counts['video'] and counts['image'] + counts['video'] == counts['all']
    assert all('_video_' in s.meta['video'] for s in ToyRegionMaskDataset(root=root, split='valid_u', media='video'))
    with pytest.raises(ValueError, match='toy_region_mask: media must be one of'):
        ToyRegionMaskDataset(root=root, split='valid_u', media='images')


def test_mevis_media_filter(heldout_root):
    from unipixel_plugin.toy.datasets import ToyMeViSDataset

    root = str(heldout_root.parent)
    sets = {m: ToyMeViSDataset(root=root, split='valid_u', media=m) for m in ('image', 'video', 'all')}
    assert len(sets['image']) and len(sets['video']) and len(sets['image']) + len(sets['video']) == len(sets['all'])
    assert {s.data_type for s in sets['video']} == {'seg_video'}
    assert all('_image_' in s.meta['video'] for s in sets['image'])
    with pytest.raises(ValueError, match='toy_mevis: media must be one of'):
        ToyMeViSDataset(root=root, split='valid_u', media='clips')


def test_shape_groups_add_one_union_turn_per_shape(heldout_root):
    from unipixel_plugin.data.hybrid import HybridDataset
    from unipixel_plugin.toy.datasets import ToyRefCOCODataset
    from unipixel_plugin.toy.scenes import render, Scene, SceneObject

    root = str(heldout_root.parent)
    plain = ToyRefCOCODataset(root=root, split='val', group_by_image=True)
    grouped = ToyRefCOCODataset(root=root, split='val', group_by_image=True, shape_groups=True)
    assert len(plain) == len(grouped) and not plain.problems and not grouped.problems
    scenes = {s['name']: s for s in load_manifest(heldout_root)['scenes']}
    mixture = HybridDataset(datasets=[grouped], num_frames=1, max_objects=0, max_turns=0, seed=0)
    unions = 0  # groups of two or more objects checked
    for index in range(8):
        sample, loaded = grouped[index], mixture[index]
        scene = scenes[sample.media[0].rsplit('/', 1)[-1][:-4]]
        shapes = sorted({o['shape'] for o in scene['objects']})
        added = sample.meta['queries'][len(plain[index].meta['queries']):]
        assert added == [f'every {shape}' for shape in shapes]
        assert sample.conversation[:len(plain[index].conversation)] == plain[index].conversation
        objects = [SceneObject(o['colour'], o['shape'], o['radius'], o['centres']) for o in scene['objects']]
        _, visible = render(Scene(scene['name'], scene['size'], 1, objects, scene['background_seed']))
        queries = [t['content'] for t in loaded.conversation if t['role'] == 'user']
        for shape in shapes:
            union = visible[[o['shape'] == shape for o in scene['objects']], 0].any(0)
            turn = next(i for i, q in enumerate(queries) if f'every {shape}' in q)
            assert loaded.masks[turn][0].shape == union.shape and (loaded.masks[turn][0] == union).all()
            assert union.sum() >= 100
            unions += sum(o['shape'] == shape for o in scene['objects']) > 1
    assert unions >= 2
    only = ToyRefCOCODataset(root=root, split='val', group_by_image=True, shape_groups='only')
    for index in (0, 3):
        sample = only[index]
        assert sample.meta['queries'] == grouped[index].meta['queries'][len(plain[index].meta['queries']):]
        assert len(sample.objects) == len(sample.meta['queries']) == len(sample.conversation) // 2
        assert [o.object_id for o in sample.objects] == [f'every{q[5:].replace(" ", "-")}' for q in
                                                         sample.meta['queries']]
    with pytest.raises(ValueError, match='shape_groups must be'):
        ToyRefCOCODataset(root=root, split='val', shape_groups='yes')
