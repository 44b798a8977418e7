"""Long videos through the batch API and the lmms-eval adapter with ``sam2_frames='all'``: SAM 2 reads the frames one
at a time with bounded state, masks come back as COCO RLE per frame, and they equal unbounded whole-video tracking.

The trained toy tracks a red circle swinging left and right (it does not track every motion: measured on 80 frames,
IoU with the drawn circle >= 0.89 on every frame)."""
import json

import av
import cv2
import numpy as np
import pytest

from unipixel_plugin.inference import RLEMasks, UniPixelPredictor
from unipixel_plugin.masks import decode_rle, encode_rle
from unipixel_plugin.toy.model import LLM_PIXELS

RED = (220, 45, 45)
ANSWER = 'Sure, it is <|seg|>.'


def write_circle_video(path, frames: int, width: int = 160, height: int = 120) -> list[np.ndarray]:
    """An MPEG-4 clip of a red circle (radius 20) swinging between x = 70 and 90 every 40 frames; returns the drawn
    circle's mask on each frame."""
    container = av.open(str(path), 'w')
    stream = container.add_stream('mpeg4', rate=25)
    stream.width, stream.height, stream.pix_fmt = width, height, 'yuv420p'
    stream.options = {'qscale': '2'}
    truth = []
    for t in range(frames):
        phase = (t % 40) / 40
        x = int(70 + 20 * (2 * phase if phase < 0.5 else 2 - 2 * phase))
        image = np.full((height, width, 3), 30, np.uint8)
        cv2.circle(image, (x, height // 2), 20, RED, -1)
        truth.append(np.all(image == RED, axis=-1))
        for packet in stream.encode(av.VideoFrame.from_ndarray(image, format='rgb24')):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return truth


class StateSpy:
    """Wraps the real ``propagate_in_video`` of the model's SAM 2 and records, after every tracked frame, how many
    frames' image features and non-conditioning outputs its real inference state holds."""

    def __init__(self, sam2, monkeypatch):
        self.features, self.outputs, self.frames = [], [], []
        original = sam2.propagate_in_video

        def spy(state, *args, **kwargs):
            for item in original(state, *args, **kwargs):
                self.features.append(len(state['cached_features']))
                self.outputs.append(max(len(o['non_cond_frame_outputs']) for o in state['output_dict_per_obj'].values()))
                self.frames.append(type(state['images']).__name__)
                yield item
        monkeypatch.setattr(sam2, 'propagate_in_video', spy)


def window(sam2, keep: int = 16) -> int:
    """The bound ``propagate_in_video`` applies: ``keep`` raised to the memory and object-pointer windows."""
    return max(keep, sam2.num_maskmem * sam2.memory_temporal_stride_for_eval, sam2.max_obj_ptrs_in_encoder)


@pytest.fixture(scope='module')
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp('long') / 'circle80.mp4'
    return path, write_circle_video(path, 80)


def test_batch_api_streams_a_long_video_with_the_masks_of_unbounded_tracking(toy_predictor, clip, monkeypatch):
    path, truth = clip
    model, processor = toy_predictor.model, toy_predictor.processor
    streamed = UniPixelPredictor(model, processor, min_pixels=LLM_PIXELS, max_pixels=LLM_PIXELS, sam2_frames='all',
                                 keep_logits=False)
    whole = UniPixelPredictor(model, processor, min_pixels=LLM_PIXELS, max_pixels=LLM_PIXELS, sam2_frames='all',
                              keep_logits=False, keep_memories=None, mask_format='dense')

    spy = StateSpy(model.sam2, monkeypatch)
    [a] = streamed.segment_batch([str(path)], ['the red circle'], answer=ANSWER)
    bound = window(model.sam2)
    # the real inference state: frames read lazily, one frame's features, at most `bound` frame outputs per object
    assert set(spy.frames) == {'LazySAM2Frames'} and len(spy.outputs) == 80
    assert max(spy.features) == 1
    assert max(spy.outputs) == bound < 80

    spy_whole = StateSpy(model.sam2, monkeypatch)
    [full] = whole.segment_batch([str(path)], ['the red circle'], answer=ANSWER)
    assert max(spy_whole.features) == 80 and max(spy_whole.outputs) == 79  # unbounded: the spy sees the growth

    assert a.frame_indices == full.frame_indices == list(range(80)) and len(a.media.frames) == 16
    assert isinstance(a.masks, RLEMasks) and isinstance(full.masks, list) and len(a.masks) == len(full.masks) == 1
    dense = a.masks[0]
    assert dense.shape == (80, 120, 160) and dense.dtype == np.bool_
    np.testing.assert_array_equal(dense, full.masks[0])  # bounded state, same masks as whole-video tracking
    area = dense.reshape(80, -1).mean(1)
    assert area.min() >= 0.05, area.min()  # real masks on every compared frame
    iou = [(m & g).sum() / (m | g).sum() for m, g in zip(dense, truth)]
    assert min(iou) >= 0.5, min(iou)  # ... of the circle the clip shows

    # RLE without decoding: what to_record writes and what one frame holds
    record = a.to_record()
    assert record['objects'][0]['rle'] == a.masks.rle(0) == [encode_rle(m) for m in full.masks[0]]
    np.testing.assert_array_equal(a.masks.frame(37), full.masks[0][37][None])
    assert len(a.masks[:0]) == 0 and isinstance(a.masks[:1], RLEMasks) and a.masks[-1] is dense
    with pytest.raises(IndexError):
        a.masks[1]

    # the CLI's path (segment_stream) gives the same masks
    stream = np.stack([m[0] for _, m, _ in streamed.segment_stream(str(path), 'the red circle', answer=ANSWER)])
    np.testing.assert_array_equal(stream, dense)


def test_mask_format_is_checked_and_dense_streams_too(toy_predictor, clip):
    path, _ = clip
    with pytest.raises(ValueError, match="mask_format must be 'auto', 'rle' or 'dense'"):
        UniPixelPredictor(toy_predictor.model, toy_predictor.processor, mask_format='png')
    image = UniPixelPredictor(toy_predictor.model, toy_predictor.processor, min_pixels=LLM_PIXELS,
                              max_pixels=LLM_PIXELS, mask_format='rle')
    dense = toy_predictor.segment(str(path), 'the red circle', answer=ANSWER)  # sampled frames: arrays
    rle = image.segment(str(path), 'the red circle', answer=ANSWER)
    assert isinstance(dense.masks, list) and isinstance(rle.masks, RLEMasks)
    np.testing.assert_array_equal(rle.masks[0], dense.masks[0])
    assert rle.to_record()['objects'] == dense.to_record()['objects']


def test_lmms_eval_adapter_streams_a_long_video_document(toy_checkpoint, tmp_path, monkeypatch):
    """The adapter (sam2_frames=all, its default) answers a video document with the streamed track: bounded SAM 2
    state and the RLE the predictor built frame by frame."""
    from lmms_eval.api.instance import Instance

    from unipixel_plugin.evaluation.lmms.adapter import UniPixelLMM
    path = tmp_path / 'circle40.mp4'
    truth = write_circle_video(path, 40)  # shorter: the toy may generate several <|seg|>, each tracked
    lmm = UniPixelLMM(pretrained=str(toy_checkpoint), device='cpu', dtype='float32', max_new_tokens=12,
                      min_pixels=LLM_PIXELS, max_pixels=LLM_PIXELS)
    lmm.task_dict = {'toy': {'test': [{'video': str(path)}]}}

    def to_messages(doc):
        return [{'role': 'user', 'content': [{'type': 'video', 'url': doc['video']},
                                             {'type': 'text', 'text': 'Please segment the red circle in this video.'}]}]
    request = Instance(request_type='generate_until', arguments=('', to_messages, {'max_new_tokens': 12}, 0, 'toy',
                                                                  'test'), idx=0,
                       metadata={'task': 'toy', 'doc_id': 0, 'repeats': 1})
    spy = StateSpy(lmm.predictor.model.sam2, monkeypatch)
    [answer] = lmm.generate_until([request])
    record = json.loads(answer)
    assert '<|seg|>' in record['answer'] and record['frame_indices'] == list(range(40))
    assert set(spy.frames) == {'LazySAM2Frames'} and max(spy.features) == 1
    assert max(spy.outputs) == window(lmm.predictor.model.sam2) < 40
    # the same masks as the batch API on the same request (whose streamed tracking equals unbounded tracking above)
    direct = lmm.predictor.segment(str(path), 'Please segment the red circle in this video.', prompt_type='raw')
    assert direct.text == record['answer'] and isinstance(direct.masks, RLEMasks)
    assert record['masks'] == [direct.masks.rle(i) for i in range(len(direct.masks))]
    first = np.stack([decode_rle(r) for r in record['masks'][0]])
    iou = np.array([(m & g).sum() / (m | g).sum() for m, g in zip(first, truth)])
    # from generation the toy's mask on the prompt frame is poor (measured IoU 0.01), the tracked ones good (>= 0.9)
    assert first.shape == (40, 120, 160) and (iou[1:] >= 0.5).all(), iou.round(2)
