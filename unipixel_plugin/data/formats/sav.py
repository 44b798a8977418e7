"""Ref-SAV training split: long descriptions of SA-V masklets (upstream's ``ref_sav``; evaluation: ``ref_sav_eval``).

Layout (relative to the data root): ``ref_sav/Ref-SAV-Min-Ratio-0.3.json`` = ``{"<video>": {"video_path":
"<dir>/sav_train/.../<video>.mp4", "anno_path": "<dir>/sav_train/.../<video>_manual.json", "objects": {"<obj id>":
{"video_id", "obj_id", "formated": description}}}}``; the paths, without their first folder, are under ``sav/``
(SA-V's training release). ``<video>_manual.json`` is SA-V's manual annotation: ``"masklet"`` = ``[per annotated
frame [COCO RLE per object]]``, read only when a sample is loaded (upstream's ``'sav'`` mask type).

SA-V videos are 24 fps and annotated at 6 fps, so the timeline is every 4th frame of the video (upstream's
``load_frames_with_stride(every_n_frames=4)``): timeline position ``t`` is video frame ``4t`` and its mask is
``masklet[t][obj id]`` (a track, :class:`~..schema.ObjectMasks`). One ``seg_video`` sample per object,
"Please segment the object according to the description: {formated}".
"""
from __future__ import annotations

from typing import Iterable

from ...prompts import seg_conversation
from ...registry import DATASETS
from ..base import UniPixelDataset, expect, expect_text, load_json
from ..schema import POSITION, MaskPart, ObjectMasks, Sample

SAV_STRIDE = 4  # 24 fps videos, masklets at 6 fps


def drop_first_folder(path: str, where: str) -> str:
    expect(isinstance(path, str) and '/' in path, f'{where}: {path!r} has no leading folder to drop')
    return path.split('/', 1)[1]


@DATASETS.register_module(name=['RefSAVDataset', 'ref_sav'])
class RefSAVDataset(UniPixelDataset):
    """Ref-SAV training split (SA-V videos, masklets). Split: ``train``."""

    SOURCE = 'ref_sav'
    META = 'ref_sav/Ref-SAV-Min-Ratio-0.3.json'
    SAV = 'sav'
    SPLITS = {'train': [META]}

    def parse(self) -> Iterable[Sample]:
        meta_file = self.path(self.META)
        videos = load_json(meta_file, ordered=True)
        expect(isinstance(videos, dict), f'{meta_file}: expected a dict of video -> {{"video_path", "anno_path", '
               '"objects"}}')
        for vid, meta in videos.items():
            paths = self.try_item(self._paths, vid, meta, meta_file, file=meta_file, video=vid)
            if paths is None:
                continue
            video, masklets, where = paths
            for qid, obj in meta['objects'].items():
                sample = self.try_item(self._object, vid, qid, obj, video, masklets, where, file=meta_file,
                                       video=vid, sample=f'{vid}/{qid}')
                if sample is not None:
                    yield sample

    def _paths(self, vid: str, meta: dict, meta_file: str) -> tuple[str, str, str]:
        """``(video file, masklet file, where)`` of one video entry."""
        where = f'{meta_file} (video {vid})'
        for key in ('video_path', 'anno_path', 'objects'):
            expect(key in meta, f'{where}: missing "{key}"')
        expect(isinstance(meta['objects'], dict), f'{where}: "objects" must be a dict of object id -> description')
        video_path = drop_first_folder(meta['video_path'], where)
        anno_path = drop_first_folder(meta['anno_path'], where)
        expect(video_path.startswith('sav_train'), f'{where}: video_path {meta["video_path"]!r} is not in '
               'sav_train/ (Ref-SAV trains on the SA-V training split)')
        expect(anno_path.startswith('sav_train') and 'manual' in anno_path,
               f'{where}: anno_path {meta["anno_path"]!r} is not a manual annotation of sav_train/')
        return self.path(self.SAV, video_path), self.path(self.SAV, anno_path), where

    def _object(self, vid: str, qid: str, obj: dict, video: str, masklets: str, where: str) -> Sample:
        expect(str(obj.get('video_id')) == vid and str(obj.get('obj_id')) == str(qid),
               f'{where}: object {qid} says video {obj.get("video_id")!r}, obj_id {obj.get("obj_id")!r}')
        expect('formated' in obj, f'{where}: object {qid} has no description ("formated")')
        query = expect_text(obj['formated'], f'{where}: object {qid}', 'description')
        track = MaskPart('json', masklets, values=('masklet', POSITION, int(qid)), source=masklets)
        return Sample(
            id=f'{vid}/{qid}',
            source=self.SOURCE,
            data_type='seg_video',
            media_type='video',
            media=[video],
            frame_stride=SAV_STRIDE,
            conversation=seg_conversation(query, 'description', 'video'),
            query=query,
            query_type='description',
            objects=[ObjectMasks(track=track, object_id=int(qid))],
            meta={'video': vid, 'obj_id': int(qid), 'annotation': masklets})


__all__ = ['RefSAVDataset', 'SAV_STRIDE']
