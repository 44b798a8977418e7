"""Video readers with annotated frame subsets: VideoRefer-Bench-Q and GroundMoRe; and the instruction data."""
import numpy as np

from unipixel_plugin.data import load_sample
from unipixel_plugin.data.formats.groundmore import GroundMoReDataset
from unipixel_plugin.data.formats.instruct import LlavaVideoGPTPlusDataset
from unipixel_plugin.data.formats.videorefer import VideoReferBenchDDataset, VideoReferBenchQDataset
from unipixel_plugin.data.pipeline import sample_rng


def test_videorefer_bench_q_video_file(data_root, fx):
    s = VideoReferBenchQDataset(data_root=data_root)[0]
    assert s.data_type == 'region_video' and s.media_type == 'video'
    assert s.frame_indices == [2, 5, 9] and s.prompt_frame == 1
    assert s.answer == 'B' and s.options[1] == '(B) Sit down.' and s.task == 'Future Predictions'
    assert [o.object_id for o in s.objects] == [3, 1]
    assert s.conversation[0]['content'] == ('What will <object3><region> do next to <object1><region>?\nOptions:\n'
                                            '(A) Run away.\n(B) Sit down.\n(C) Jump.\n(D) Sleep.\n'
                                            'Please only give the best option.')
    out = load_sample(s, sample_rng(0), num_frames=-1)
    assert out.sampled == [0, 1, 2] and out.frames.shape == (3, fx.H, fx.W, 3)
    levels = out.frames.reshape(3, -1).mean(axis=1)
    np.testing.assert_allclose(levels, [fx.frame_level(t) for t in (2, 5, 9)], atol=6)
    # object 3: frames 2 and 5; object 1: frames 5 and 9
    assert out.masks.sum(axis=(2, 3)).tolist() == [[100, 100, 0], [0, 100, 100]]
    assert np.array_equal(out.masks[0, 1], fx.rect(0, 10, 2, 12))


def test_videorefer_keeps_prompt_frame_when_subsampling(data_root):
    s = VideoReferBenchQDataset(data_root=data_root)[0]
    for seed in range(5):
        out = load_sample(s, sample_rng(seed), num_frames=2, sample_type='random')
        assert s.prompt_frame in out.sampled and len(out.sampled) == 2


def test_videorefer_frame_folder_and_bare_region(data_root, fx):
    s = VideoReferBenchQDataset(data_root=data_root)[1]
    assert s.media_type == 'frames' and len(s.media) == 2
    assert s.media[0].endswith('00001.jpg') and s.media[1].endswith('00004.jpg')
    assert [o.object_id for o in s.objects] == [0] and s.answer == 'B'
    out = load_sample(s, sample_rng(0))
    np.testing.assert_allclose(out.frames.reshape(2, -1).mean(axis=1), [fx.frame_level(1), fx.frame_level(4)],
                               atol=3)


def test_videorefer_bench_d(data_root, fx):
    s = VideoReferBenchDDataset(data_root=data_root)[0]
    assert s.data_type == 'region_video' and s.media_type == 'frames' and s.prompt_frame == 0
    assert [p[-9:] for p in s.media] == ['00003.jpg', '00007.jpg']
    assert s.answer == 'A grey square that stays still.'
    assert s.conversation[0]['content'] == \
        'Please give a detailed description of the highlighted object [0] in the video.'
    out = load_sample(s, sample_rng(0))
    assert out.masks.sum(axis=(2, 3)).tolist() == [[16, 16]]


def test_groundmore_test_uniform_20_frames(data_root):
    ds = GroundMoReDataset(data_root=data_root, split='test')
    assert [s.id for s in ds] == ['gm_vid/0', 'gm_vid/1']  # missing_vid has no annotation folder: skipped
    s = ds[1]
    keep = np.linspace(0, 24, num=20, dtype=int)
    assert [int(p[-9:-4]) for p in s.media] == keep.tolist()
    assert s.query == 'What moves?' and s.answer == 'boxes' and s.task == 'Descriptive'
    assert s.conversation[1]['content'] == 'boxes <|seg|>.'
    assert ds[0].query == 'Who opens the door?'
    annotated = s.objects[0].annotated_frames()
    assert [int(s.media[t][-9:-4]) for t in annotated] == [0, 3, 24]
    out = load_sample(s, sample_rng(0), num_frames=-1)
    assert out.masks[0, 0].sum() == 200 and out.masks[0, 1].sum() == 0
    single = load_sample(ds[0], sample_rng(0), num_frames=-1)
    assert single.masks[0, 0].sum() == 100


def test_groundmore_train_uses_masked_frames(data_root):
    s = GroundMoReDataset(data_root=data_root, split='train')[0]
    assert [int(p[-9:-4]) for p in s.media] == [0, 3, 24]
    assert all(f is not None for f in s.objects[0].frames)


def test_instruct_sources_and_placeholders(data_root, fx):
    ds = LlavaVideoGPTPlusDataset(data_root=data_root)
    img, vid, txt = ds[0], ds[1], ds[2]
    assert (img.source, img.data_type, img.media_type) == ('llava_instruct_665k', 'multimodal', 'image')
    assert img.conversation[0] == {'role': 'user', 'content': 'What is it?'}
    assert (vid.source, vid.media_type) == ('videogpt_plus_576k', 'video')
    assert vid.conversation[0]['content'] == 'Describe.'
    assert (txt.data_type, txt.media_type) == ('text', 'none')
    out = load_sample(vid, sample_rng(0), num_frames=4, sample_type='uniform')
    assert out.sampled == [0, 3, 6, 9] and out.frames.shape[0] == 4
    assert load_sample(txt, sample_rng(0)).frames is None
