"""Tiny, faithful fixtures of every supported native format, made procedurally in a temporary data root.

Conventions that the tests rely on:

* frames are uniform grey images whose level encodes the frame number (``(20 + 10 * t) % 256``), so a decoded
  frame tells which frame it is even after JPEG / MPEG-4 compression;
* masks are axis-aligned rectangles with known corners, so tests can assert exact pixels;
* ``make_*`` builders write one dataset each and return what the tests need to know about it.
"""
from __future__ import annotations

import json
import os
import pickle

import cv2
import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

H, W = 48, 64  # frame size of every fixture video / image


def frame_level(t: int) -> int:
    return (20 + 10 * t) % 256


def write_frames(folder: str, num: int, size=(H, W), names=None) -> list[str]:
    os.makedirs(folder, exist_ok=True)
    names = names or [f'{t:05d}' for t in range(num)]
    paths = []
    for t, name in enumerate(names):
        path = os.path.join(folder, f'{name}.jpg')
        Image.fromarray(np.full((*size, 3), frame_level(t), dtype=np.uint8)).save(path, quality=95)
        paths.append(path)
    return paths


def write_video(path: str, num: int, size=(H, W), fps: int = 10):
    """An mp4 (mp4v) whose frame ``t`` is grey level ``frame_level(t)``; decord reads it."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps, (size[1], size[0]))
    for t in range(num):
        writer.write(np.full((*size, 3), frame_level(t), dtype=np.uint8))
    writer.release()
    return path


def rect(y0, y1, x0, x1, size=(H, W)) -> np.ndarray:
    m = np.zeros(size, dtype=bool)
    m[y0:y1, x0:x1] = True
    return m


def rle(mask: np.ndarray) -> dict:
    """Compressed COCO RLE with a str ``counts`` (as the JSON files store it)."""
    r = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {'size': [int(s) for s in r['size']], 'counts': r['counts'].decode('ascii')}


def dump_json(path: str, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(obj, f)


# ---- Ref-VOS family ------------------------------------------------------------------------------------------------

def mevis_masks(t: int) -> dict:
    """anno 0: a 10x10 square moving right by 1 px per frame; anno 1: a fixed square on frames 0-2 only."""
    return {0: rect(10, 20, 5 + t, 15 + t), 1: rect(30, 40, 40, 50) if t < 3 else None}


def make_mevis(root: str, split: str = 'train') -> dict:
    base = os.path.join(root, 'mevis', split)
    videos = {'vidA': 6, 'vidB': 3}
    meta, mask_dict = {'videos': {}}, {}
    anno = 0
    for vid, n in videos.items():
        names = [f'{t:05d}' for t in range(n)]
        write_frames(os.path.join(base, 'JPEGImages', vid), n, names=names)
        a0, a1 = anno, anno + 1
        anno += 2
        mask_dict[str(a0)] = [rle(mevis_masks(t)[0]) for t in range(n)]
        mask_dict[str(a1)] = [rle(mevis_masks(t)[1]) if mevis_masks(t)[1] is not None else None for t in range(n)]
        meta['videos'][vid] = {'frames': names, 'expressions': {
            '0': {'exp': 'The car moving right.', 'obj_id': [0], 'anno_id': [a0]},
            '1': {'exp': 'both cars', 'obj_id': [0, 1], 'anno_id': [a0, a1]},
            '2': {'exp': 'a unicorn', 'obj_id': [], 'anno_id': []},
        }}
    dump_json(os.path.join(base, 'meta_expressions.json'), meta)
    if split != 'valid':
        dump_json(os.path.join(base, 'mask_dict.json'), mask_dict)
    return {'videos': videos}


def make_revos(root: str) -> dict:
    base = os.path.join(root, 'revos')
    # a TAO video (8 frames, object on frames 2..4 only) and another one (4 frames)
    videos = {'TAO/train/vidT': 8, 'MOSE/vidM': 4}
    meta, mask_dict, fg = {'videos': {}}, {}, {}
    for anno, (vid, n) in enumerate(videos.items()):
        names = [f'{t:05d}' for t in range(n)]
        write_frames(os.path.join(base, vid), n, names=names)
        visible = range(2, 5) if vid.startswith('TAO') else range(n)
        mask_dict[str(anno)] = [rle(rect(5, 15, 5, 15)) if t in visible else None for t in range(n)]
        fg[vid] = {'masks_rle': [rle(rect(0, 20, 0, 20)) for _ in range(n)]}
        meta['videos'][vid] = {'frames': names, 'expressions': {
            '0': {'exp': 'the person on the left', 'obj_id': [1], 'anno_id': [anno], 'type_id': 0},
            '1': {'exp': 'Which object can be used to sit on?', 'obj_id': [1], 'anno_id': [anno], 'type_id': 1},
        }}
    for name in ('meta_expressions_train_.json', 'meta_expressions_valid_.json'):
        dump_json(os.path.join(base, name), meta)
    dump_json(os.path.join(base, 'mask_dict.json'), mask_dict)
    dump_json(os.path.join(base, 'mask_dict_foreground.json'), fg)
    return {'videos': videos}


def visa_mask(index: int, size=(H, W)) -> np.ndarray:
    """Mask stored under running index ``index``: the first ``index + 1`` pixels of row 0 (area = index + 1)."""
    return rect(0, 1, 0, index + 1, size)


def make_visa(root: str, dataset: str = 'ref_youtube_vos') -> dict:
    """Ref-YouTube-VOS / Ref-DAVIS17 in the VISA layout; the JSON is written UNSORTED on purpose."""
    n = 2
    # file order: 'vid_b' first; 'vid_a' has 12 expressions so that '10' and '11' sort before '2'
    videos = {'vid_b': {'frames': ['00000', '00001'], 'expressions': {'1': {'exp': 'a dog', 'obj_id': '1'},
                                                                       '0': {'exp': 'a cat', 'obj_id': '2'}}},
              'vid_a': {'frames': ['00000', '00001'],
                        'expressions': {str(k): {'exp': f'object number {k}', 'obj_id': '1'} for k in range(12)}}}
    total = sum(len(v['expressions']) for v in videos.values())
    masks = {str(i): [rle(visa_mask(i)) for _ in range(n)] for i in range(total)}
    if dataset == 'ref_youtube_vos':
        meta_dirs, frame_dirs, mask_files = ['train', 'valid'], ['ref_youtube_vos/train/JPEGImages',
                                                                 'ref_youtube_vos/valid/JPEGImages'], \
            ['ref_youtube_vos/mask_dict.pkl']
    else:
        meta_dirs, frame_dirs, mask_files = ['train', 'valid'], ['ref_davis17/DAVIS/JPEGImages/480p'], \
            ['ref_davis17/train/mask_dict.pkl', 'ref_davis17/valid/mask_dict.pkl']
    for split in meta_dirs:
        dump_json(os.path.join(root, dataset, 'meta_expressions', split, 'meta_expressions.json'), {'videos': videos})
    for frame_dir in frame_dirs:
        for vid in videos:
            write_frames(os.path.join(root, frame_dir, vid), n)
    for mask_file in mask_files:
        os.makedirs(os.path.dirname(os.path.join(root, mask_file)), exist_ok=True)
        with open(os.path.join(root, mask_file), 'wb') as f:
            pickle.dump(masks, f)
    return {'videos': videos, 'total': total}


def make_lvvis(root: str):
    base = os.path.join(root, 'lvvis')
    write_frames(os.path.join(base, 'train', 'JPEGImages', 'v0'), 3)
    dump_json(os.path.join(base, 'meta_expressions.json'), {'videos': {'v0': {
        'frames': ['00000', '00001', '00002'],
        'expressions': {'0': {'exp': 'traffic_light', 'obj_id': [3], 'anno_id': [7]}}}}})
    dump_json(os.path.join(base, 'mask_dict.json'), {'7': [rle(rect(0, 5, 0, 5))] * 3})


def make_ref_sav_eval(root: str):
    base = os.path.join(root, 'ref_sav', 'valid')
    write_frames(os.path.join(base, 'videos', 'sav_001'), 2)
    dump_json(os.path.join(base, 'meta_expressions_valid.json'), {'videos': {'sav_001': {
        'frames': ['00000', '00001'],
        'expressions': {'0': {'exp': 'A small robot that walks across the table.', 'obj_id': [0],
                              'anno_id': [0]}}}}})
    dump_json(os.path.join(base, 'mask_dict.json'), {'0': [rle(rect(1, 9, 1, 9)), None]})


# ---- images ----------------------------------------------------------------------------------------------------------

def square_polygon(x0, y0, x1, y1) -> list:
    return [[x0, y0, x1, y0, x1, y1, x0, y1]]


def make_refcoco(root: str, dataset: str = 'refcoco') -> dict:
    base = os.path.join(root, 'lisa', 'refer_seg')
    split_by = 'umd' if dataset == 'refcocog' else 'unc'
    img_dir = os.path.join(base, 'images', 'saiapr_tc-12' if dataset == 'refclef' else 'mscoco/images/train2014')
    os.makedirs(img_dir, exist_ok=True)
    images = []
    for i, name in enumerate(['COCO_train2014_000000000001.jpg', 'COCO_train2014_000000000002.jpg']):
        Image.fromarray(np.full((H, W, 3), 100 + i, np.uint8)).save(os.path.join(img_dir, name))
        images.append({'id': i + 1, 'file_name': name, 'height': H, 'width': W})
    anns = [
        {'id': 11, 'image_id': 1, 'category_id': 1, 'bbox': [4, 8, 10, 6],
         'segmentation': square_polygon(4, 8, 14, 14)},
        {'id': 12, 'image_id': 1, 'category_id': 2, 'bbox': [20, 20, 10, 10],
         'segmentation': rle(rect(20, 30, 20, 30))},
        {'id': 21, 'image_id': 2, 'category_id': 1, 'bbox': [0, 0, 8, 8], 'segmentation': square_polygon(0, 0, 8, 8)},
    ]

    def ref(ref_id, ann_id, image_id, split, sents):
        return {'ref_id': ref_id, 'ann_id': ann_id, 'image_id': image_id, 'category_id': 1, 'split': split,
                'file_name': f'x_{ref_id}.jpg', 'sent_ids': [ref_id * 10 + k for k in range(len(sents))],
                'sentences': [{'sent_id': ref_id * 10 + k, 'sent': s, 'raw': s, 'tokens': s.split()}
                              for k, s in enumerate(sents)]}

    refs = [ref(1, 11, 1, 'train', ['left square', 'the small box']), ref(2, 12, 1, 'train', ['right square']),
            ref(3, 21, 2, 'val', ['corner square']), ref(4, 11, 1, 'testA', ['man on left']),
            ref(5, 12, 1, 'testB', ['bottle']), ref(6, 21, 2, 'test', ['thing'])]
    os.makedirs(os.path.join(base, dataset), exist_ok=True)
    with open(os.path.join(base, dataset, f'refs({split_by}).p'), 'wb') as f:
        pickle.dump(refs, f)
    dump_json(os.path.join(base, dataset, 'instances.json'),
              {'images': images, 'annotations': anns, 'categories': [{'id': 1, 'name': 'a'}, {'id': 2, 'name': 'b'}]})
    return {'refs': refs}


def make_reason_seg(root: str, split: str = 'val') -> dict:
    base = os.path.join(root, 'lisa', 'reason_seg', 'ReasonSeg', split)
    os.makedirs(base, exist_ok=True)
    Image.fromarray(np.full((H, W, 3), 90, np.uint8)).save(os.path.join(base, 'img1.jpg'))
    shapes = [
        {'label': 'target', 'points': [[10, 10], [40, 10], [40, 30], [10, 30]], 'shape_type': 'polygon',
         'image_name': 'img1.jpg'},
        {'label': 'ignore', 'points': [[20, 15], [30, 15], [30, 25], [20, 25]], 'shape_type': 'polygon',
         'image_name': 'img1.jpg'},
        {'label': 'flag', 'points': [[0, 0], [5, 0], [5, 5]], 'shape_type': 'polygon', 'image_name': 'img1.jpg'},
    ]
    dump_json(os.path.join(base, 'img1.json'), {'text': ['What can hold water?', 'the cup'], 'is_sentence': True,
                                                'shapes': shapes})
    if split == 'train':
        dump_json(os.path.join(root, 'lisa', 'reason_seg', 'ReasonSeg', 'explanatory', 'train.json'),
                  [{'image': 'img1.jpg', 'query': 'What holds water?', 'outputs': 'The cup holds water.'}])
    return {'shapes': shapes}


# ---- videos with annotated frame subsets -----------------------------------------------------------------------------

def make_videorefer_bench_q(root: str) -> dict:
    base = os.path.join(root, 'videorefer', 'VideoRefer-Bench')
    write_video(os.path.join(base, 'videos', 'clip.mp4'), 12)
    write_frames(os.path.join(base, 'videos', 'folder_clip'), 6)
    items = [
        {'id': 0, 'video': 'clip.mp4', 'type': 'Future Predictions', 'frame_idx': '5',
         'Question': 'What will <object3><region> do next to <object1><region>?',
         'options': ['(A) Run away.', '(B) Sit down.', '(C) Jump.', '(D) Sleep.'], 'Answer': '(B) Sit down.',
         'annotation': [{'2': {'segmentation': rle(rect(0, 10, 0, 10))},
                         '5': {'segmentation': rle(rect(0, 10, 2, 12))}},
                        {'5': {'segmentation': rle(rect(20, 30, 20, 30))},
                         '9': {'segmentation': rle(rect(20, 30, 22, 32))}}]},
        {'id': 1, 'video': 'folder_clip', 'type': 'Basic Questions', 'frame_idx': '1',
         'Question': 'What colour is <region>?', 'options': ['(A) Red', '(B) Grey'], 'Answer': '(B) Grey',
         'annotation': [{'1': {'segmentation': rle(rect(5, 15, 5, 15))},
                         '4': {'segmentation': rle(rect(5, 15, 5, 15))}}]},
    ]
    dump_json(os.path.join(base, 'VideoRefer-Bench-Q.json'), items)
    return {'items': items}


def make_videorefer_bench_d(root: str):
    base = os.path.join(root, 'videorefer', 'VideoRefer-Bench')
    write_frames(os.path.join(base, 'videos', 'Panda-70M-part', 'panda_clip'), 8)
    dump_json(os.path.join(base, 'VideoRefer-Bench-D.json'), [
        {'video': 'panda_clip', 'caption': 'A grey square that stays still.', 'frame_idx': '3',
         'annotation': [{'3': {'segmentation': rle(rect(2, 6, 2, 6))}, '7': {'segmentation': rle(rect(2, 6, 2, 6))}}]}])


def make_paco(root: str) -> dict:
    coco_dir = os.path.join(root, 'lisa', 'coco', 'val2017')
    os.makedirs(coco_dir, exist_ok=True)
    Image.fromarray(np.full((H, W, 3), 77, np.uint8)).save(os.path.join(coco_dir, '000000000009.jpg'))
    dump_json(os.path.join(root, 'lisa', 'vlpart', 'paco', 'annotations', 'paco_lvis_v1_val.json'), {
        'images': [{'id': 9, 'file_name': 'val2017/000000000009.jpg', 'height': H, 'width': W},
                   {'id': 10, 'file_name': 'val2017/none.jpg', 'height': H, 'width': W}],
        'categories': [{'id': 1, 'name': 'mug:handle_(cup)'}, {'id': 2, 'name': 'trash_can_(bin)'}],
        'annotations': [{'id': 91, 'image_id': 9, 'category_id': 1, 'bbox': [0, 0, 4, 4],
                         'segmentation': square_polygon(0, 0, 4, 4)},
                        {'id': 92, 'image_id': 9, 'category_id': 2, 'bbox': [10, 10, 6, 6],
                         'segmentation': rle(rect(10, 16, 10, 16))}]})


def make_groundmore(root: str) -> dict:
    base = os.path.join(root, 'groundmore')
    folder = os.path.join(base, 'annotations', 'gm_vid')
    write_frames(os.path.join(folder, 'images'), 25)
    os.makedirs(os.path.join(folder, 'masks'), exist_ok=True)
    for t in (0, 3, 24):  # masks on three frames: object 1 left square, object 2 right square
        label = np.zeros((H, W), np.uint8)
        label[0:10, 0:10] = 1
        label[0:10, 50:60] = 2
        Image.fromarray(label, mode='L').save(os.path.join(folder, 'masks', f'{t:05d}.png'))
    meta = {'videos': {'gm_vid': {'questions': {'0': {'question': 'Who opens the door', 'answer': 'the man',
                                                      'q_type': 'Causal', 'obj_id': '1'},
                                                '1': {'question': 'What moves?', 'answer': 'boxes',
                                                      'q_type': 'Descriptive', 'obj_id': '1, 2'}}},
                       'missing_vid': {'questions': {'0': {'question': 'x?', 'answer': 'y', 'q_type': 'Causal',
                                                          'obj_id': '1'}}}}}
    dump_json(os.path.join(base, 'test_v2.json'), meta)
    dump_json(os.path.join(base, 'trainval_v2.json'), meta)
    return {'meta': meta}


def make_llava(root: str):
    os.makedirs(os.path.join(root, 'llava_instruct', 'coco'), exist_ok=True)
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(os.path.join(root, 'llava_instruct', 'coco', 'a.jpg'))
    write_video(os.path.join(root, 'videogpt_plus', 'v.mp4'), 10)
    dump_json(os.path.join(root, 'general', 'llava_v1_5_mix665k_with_videogpt_plus_576k.json'), [
        {'id': 'img1', 'image': 'coco/a.jpg', 'conversations': [{'from': 'human', 'value': '<image>\nWhat is it?'},
                                                                {'from': 'gpt', 'value': 'Nothing.'}]},
        {'id': 'vid1', 'video': 'v.mp4', 'conversations': [{'from': 'human', 'value': 'Describe.\n<video>'},
                                                            {'from': 'gpt', 'value': 'Grey.'}]},
        {'id': 'txt1', 'conversations': [{'from': 'human', 'value': 'Hi'}, {'from': 'gpt', 'value': 'Hello'}]},
    ])


# ---- region / memory data: VideoRefer-700K, Inst-IT, Osprey ---------------------------------------------------------

VR700K = os.path.join('videorefer', 'VideoRefer-700K')


def vr_item(video, question, answer, frames_per_object, ratio=0.5, item_id=None):
    """A VideoRefer-700K item "without masks": only the frame numbers of ``annotation`` matter."""
    return {'id': item_id, 'video': video, 'ratio': ratio,
            'conversations': [{'from': 'human', 'value': f'<video>\n{question}'}, {'from': 'gpt', 'value': answer}],
            'annotation': [{str(t): {'segmentation': None} for t in frames} for frames in frames_per_object]}


def vr_square(o: int, t: int) -> np.ndarray:
    """Object ``o`` on video frame ``t`` in the VideoRefer-700K fixture: a 10x10 square at x = 10 * o + t."""
    return rect(5, 15, 10 * o + t, 10 * o + t + 10)


def make_videorefer_700k(root: str) -> dict:
    """Videos: ``clip.mp4`` (12 frames) and ``folder_clip/`` (6 .jpg frames). Mask file ``n.json`` holds, per object
    and per annotated frame (union, ascending), ``[rle of vr_square(o, t)]`` where the object is annotated."""
    base = os.path.join(root, VR700K)
    write_video(os.path.join(base, 'videos', 'clip.mp4'), 12)
    write_frames(os.path.join(base, 'videos', 'folder_clip'), 6)

    def write(name, masks_dir, items):
        dump_json(os.path.join(base, name), items)
        for n, item in enumerate(items):
            frames = [sorted(int(k) for k in obj) for obj in item['annotation']]
            timeline = sorted({t for f in frames for t in f})
            dump_json(os.path.join(base, masks_dir, f'{n}.json'),
                      [[[rle(vr_square(o, t))] if t in f else None for t in timeline] for o, f in enumerate(frames)])

    write('videorefer-short-caption-500k-wo-masks.json', 'masks_short_caption', [
        vr_item('clip.mp4', 'What is <region> doing?', 'Sliding right.', [[4]], item_id='s0'),
        {**vr_item('folder_clip', 'Describe <region>.', 'A grey square.', [[2]], item_id='s1'),
         'conversations': [{'from': 'human', 'value': 'Describe <region>.\n<video>'},
                           {'from': 'gpt', 'value': 'A grey square.'}]},
        vr_item('clip.mp4', 'What is <region>?', 'A box.', [[7]], ratio=0.1, item_id='s2'),  # region: ratio < 0.3
    ])
    write('videorefer-detailed-caption-125k-wo-masks.json', 'masks_detailed_caption', [
        vr_item('clip.mp4', 'Describe <region> in detail.', 'It slides to the right.', [[1, 3, 7]], item_id='d0'),
        vr_item('folder_clip', 'Describe <region> in detail.', 'It stays.', [[5]], item_id='d1'),
    ])
    write('videorefer-qa-75k-wo-masks.json', 'masks_qa', [
        vr_item('clip.mp4', 'There are <object0><region> and <object2><region> in the video.\n'
                'What is <object2> doing near <object0>?', 'It follows <object0>.', [[0, 5], [5, 9]], item_id='q0'),
        vr_item('clip.mp4', 'What colour is <region>?', 'Grey.', [[3, 6]], item_id='q1'),
        vr_item('folder_clip', 'Where is <region>?', 'On the left.', [[4]], item_id='q2'),  # one frame: not memory
        vr_item('clip.mp4', 'x', 'y', [[0]] * 6, item_id='q3'),  # six objects: skipped by every reader
    ])
    return {'base': base}


def make_inst_it(root: str) -> dict:
    """Images: ``img1`` with instances 1 (left square) and 2 (right square). Videos: ``vid1`` (frames ``1, 2, 10``
    .jpg: instance 1 on frames 1 and 2, instance 2 on frames 1 and 10) and ``vid9`` (9 frames)."""
    base = os.path.join(root, 'inst_it', 'Inst-IT-Dataset')
    os.makedirs(os.path.join(base, 'images_raw'), exist_ok=True)
    Image.fromarray(np.full((H, W, 3), 60, np.uint8)).save(os.path.join(base, 'images_raw', 'img1.jpg'))
    dump_json(os.path.join(base, 'inst_it_dataset_image_51k_w_mask.json'), [{
        'image_id': 'img1', 'image_path': 'images_raw/img1.jpg',
        'instance_level_caption': {'1': {'short': 'A left square.', 'long': 'A square on the left.'},
                                   '2': {'short': 'A right square.', 'long': 'A square on the right.'}},
        'segmentations': {'1': {'mask': rle(rect(0, 10, 0, 10))}, '2': {'mask': rle(rect(0, 10, 50, 60))}}}])
    write_frames(os.path.join(base, 'videos_raw', 'vid1'), 3, names=['1', '2', '10'])
    write_frames(os.path.join(base, 'videos_raw', 'vid9'), 9, size=(16, 16))
    one, two = rect(10, 20, 0, 10), rect(30, 40, 40, 50)
    dump_json(os.path.join(base, 'inst_it_dataset_video_21k_w_mask.json'), [
        {'video_id': 'vid1', 'video_path': 'videos_raw/vid1',
         'question_answer_pairs': [{'question': 'What is [1] doing at <0>?', 'answer': 'It walks to [02].'},
                                   {'question': 'Is it sunny?', 'answer': 'Yes.'},
                                   {'question': 'Where is [2]?', 'answer': 'Right.'}],
         'segmentations': {'1.jpg': {'1': {'mask': rle(one)}, '2': {'mask': rle(two)}},
                           '2.jpg': {'1': {'mask': rle(one)}},
                           '10.jpg': {'2': {'mask': rle(two)}}}},
        {'video_id': 'vid9', 'video_path': 'videos_raw/vid9',
         'question_answer_pairs': [{'question': 'What is [1]?', 'answer': 'A wall.'}],
         'segmentations': {'00000.jpg': {'1': {'mask': rle(rect(0, 4, 0, 4, (16, 16)))}}}},
    ])
    return {'one': one, 'two': two}


def make_osprey(root: str) -> dict:
    """One COCO image per file; region 1 is a polygon square, region 2 an RLE square."""
    coco = os.path.join(root, 'osprey', 'coco')
    for folder, name in (('train2014', 'COCO_train2014_000000000001.jpg'), ('imgs', 'pn.jpg')):
        os.makedirs(os.path.join(coco, folder), exist_ok=True)
        Image.fromarray(np.full((H, W, 3), 120, np.uint8)).save(os.path.join(coco, folder, name))
    regions = [{'segmentation': square_polygon(0, 0, 10, 10), 'bbox': [0, 0, 10, 10]},
               {'segmentation': rle(rect(20, 30, 20, 30)), 'bbox': [20, 20, 10, 10]}]

    def item(i, name, **text):
        return {'id': i, 'file_name': name, 'height': H, 'width': W, 'annotation': regions, **text}

    def conv(*values):
        return [{'from': 'human' if k % 2 == 0 else 'gpt', 'value': v} for k, v in enumerate(values)]

    base = os.path.join(root, 'osprey', 'Osprey-724K')
    name = 'COCO_train2014_000000000001.jpg'
    dump_json(os.path.join(base, 'osprey_conversation.json'), [
        item(1, name, conversations=conv('What is <region1> holding?', 'It holds <region2]. ', 'And <region 1>?',
                                         'Nothing.')),
        item(2, name, conversations=conv('What is <region>?', 'A box.')),  # bare <region>: skipped
        item(3, name, conversations=conv('What is <region3>?', 'A ghost.')),  # no third region: skipped
    ])
    dump_json(os.path.join(base, 'osprey_lvis_positive_negative.json'), [
        item(7, 'pn.jpg', conversations=conv('Is <region2> a cat?', 'No.'))])
    dump_json(os.path.join(base, 'osprey_detail_description.json'), [
        item(4, name, description=['<region1>: A grey square.', '<Region2>: A small box.']),
        item(5, name, description=['<region1> and <region2>: two boxes.']),  # two regions: skipped
    ])
    return {'regions': regions}


# ---- ViCaS, semantic segmentation, Ref-SAV ---------------------------------------------------------------------------

def make_vicas(root: str) -> dict:
    """Video ``000123`` (3 frames); referral 0 = track 1 (frames 0, 1), referral 1 = tracks 1 and 2."""
    base = os.path.join(root, 'vicas')
    write_frames(os.path.join(base, 'video_frames', '000123'), 3)
    dump_json(os.path.join(base, 'annotations', 'annotations_wo_masks_v1.0.json'), {'000123': {
        'filename': '000123.mp4', 'caption': 'A dog and a cat.',
        'segmentations': [{'filename': f'{t:05d}.jpg', 'track_ids': [1, 2]} for t in range(3)],
        'object_referrals': [{'prompt': ' The dog runs to the left. ', 'track_ids': [1]},
                             {'prompt': 'Both animals.', 'track_ids': [1, 2]}]}})
    for split, ids in (('train', [123]), ('val', [123]), ('test', [])):
        dump_json(os.path.join(base, 'splits', 'v1.0', f'{split}.json'), ids)
    dog, cat = rect(0, 10, 0, 10), rect(20, 30, 30, 40)
    dump_json(os.path.join(base, 'masks', '000123', '0.json'), [[rle(dog)], [rle(dog)], [None]])
    dump_json(os.path.join(base, 'masks', '000123', '1.json'), [[rle(dog), rle(cat)], [rle(dog), None], [None, None]])
    return {'dog': dog, 'cat': cat}


def write_label(path: str, label: np.ndarray, palette: bool = False):
    """A label PNG: grey levels, or (``palette``: Mapillary ships these) palette indices with a colour palette."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    img = Image.fromarray(label.astype(np.uint8), mode='P' if palette else 'L')
    if palette:
        img.putpalette([v for i in range(256) for v in ((i * 7) % 256, (i * 13) % 256, (i * 29) % 256)])
    img.save(path)


def semantic_label(values) -> np.ndarray:
    """A label map made of horizontal bands, one per value, 8 rows each (the rest 255)."""
    label = np.full((H, W), 255, np.uint8)
    for i, v in enumerate(values):
        label[8 * i:8 * i + 8] = v
    return label


def make_semantic(root: str) -> dict:
    """ADE20K: classes 0 (ignored), 1 (wall), 13 (person); COCO-Stuff: 0 (person, ignored upstream), 95
    (building-other), 96 (bush, ignored upstream); Mapillary (palette PNG): 21 (road), 123 (ignored), 55."""
    specs = {
        'ade20k': ('lisa/ade20k/annotations/training', 'lisa/ade20k/images/training', 'ADE_train_00000001', [0, 1, 13]),
        'cocostuff': ('lisa/cocostuff/train2017', 'lisa/coco/train2017', '000000000001', [0, 95, 96]),
        'mapillary': ('lisa/mapillary/training/v2.0/labels', 'lisa/mapillary/training/images', 'm1', [21, 123, 55]),
    }
    for name, (labels, images, stem, values) in specs.items():
        write_label(os.path.join(root, labels, f'{stem}.png'), semantic_label(values), palette=name == 'mapillary')
        os.makedirs(os.path.join(root, images), exist_ok=True)
        Image.fromarray(np.full((H, W, 3), 30, np.uint8)).save(os.path.join(root, images, f'{stem}.jpg'))
    return {'specs': specs}


def sav_square(obj: int, t: int) -> np.ndarray:
    """SA-V masklet of object ``obj`` on annotated frame ``t``: a 6x6 square at x = 8 * t + 20 * obj."""
    return rect(10, 16, 8 * t + 20 * obj, 8 * t + 20 * obj + 6)


def make_ref_sav(root: str, num_frames: int = 9, annotated: int = 3) -> dict:
    """One SA-V video of ``num_frames`` frames (24 fps, so annotated every 4th frame) with two objects."""
    video = os.path.join(root, 'sav', 'sav_train', 'sav_000', 'sav_000001.mp4')
    write_video(video, num_frames)
    dump_json(os.path.join(root, 'sav', 'sav_train', 'sav_000', 'sav_000001_manual.json'), {
        'video_id': 'sav_000001', 'video_frame_count': num_frames, 'masklet_id': [0, 1], 'masklet_num': 2,
        'masklet': [[rle(sav_square(0, t)), rle(sav_square(1, t))] for t in range(annotated)]})
    dump_json(os.path.join(root, 'ref_sav', 'Ref-SAV-Min-Ratio-0.3.json'), {'sav_000001': {
        'video_path': 'SA-V/sav_train/sav_000/sav_000001.mp4',
        'anno_path': 'SA-V/sav_train/sav_000/sav_000001_manual.json',
        'objects': {'0': {'video_id': 'sav_000001', 'obj_id': 0, 'formated': ' A grey square that slides right. '},
                    '1': {'video_id': 'sav_000001', 'obj_id': 1, 'formated': 'Another square behind it.'}}}})
    return {'video': video}


def make_all(root: str) -> dict:
    info = {
        'mevis_train': make_mevis(root, 'train'),
        'mevis_valid_u': make_mevis(root, 'valid_u'),
        'revos': make_revos(root),
        'ref_youtube_vos': make_visa(root, 'ref_youtube_vos'),
        'ref_davis17': make_visa(root, 'ref_davis17'),
        'refcoco': make_refcoco(root, 'refcoco'),
        'refcocog': make_refcoco(root, 'refcocog'),
        'reason_seg': make_reason_seg(root, 'val'),
        'videorefer_bench_q': make_videorefer_bench_q(root),
        'groundmore': make_groundmore(root),
    }
    make_lvvis(root)
    make_ref_sav_eval(root)
    make_llava(root)
    make_videorefer_bench_d(root)
    make_paco(root)
    info.update(videorefer_700k=make_videorefer_700k(root), inst_it=make_inst_it(root), osprey=make_osprey(root),
                vicas=make_vicas(root), semantic=make_semantic(root), ref_sav=make_ref_sav(root))
    return info


def skipped(dataset, pattern: str, kind: str = 'malformed_annotation', count: int = 1) -> list:
    """Assert that the reader skipped ``count`` annotation items, each recorded with ``kind`` and a message
    matching ``pattern`` (``re.search``) that names the file it is in; return the problems."""
    import re
    problems = dataset.problems
    assert len(problems) == count, [p.message for p in problems]
    for p in problems:
        assert p.kind == kind and re.search(pattern, p.message), p.message
        assert p.file and p.file in p.message and p.source == dataset.SOURCE and p.split == dataset.split
    return problems


@pytest.fixture(scope='session')
def data_root(tmp_path_factory):
    """A data root holding every fixture dataset (shared, read-only: copy it before breaking anything)."""
    root = str(tmp_path_factory.mktemp('unipixel_data'))
    make_all(root)
    return root


@pytest.fixture
def fresh_root(tmp_path):
    """An empty data root for tests that build (and break) their own fixture."""
    return str(tmp_path)


@pytest.fixture(scope='session')
def fx():
    """This module: the builders and helpers above (``fx.rect``, ``fx.make_mevis`` ...) for use in tests."""
    import sys
    return sys.modules[__name__]
