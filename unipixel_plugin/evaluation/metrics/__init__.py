"""Benchmark metrics of UniPixel's tasks, exact against the reference scoring code (numpy + OpenCV only).

* :mod:`.video_segmentation`: DAVIS J (region similarity) and F (boundary accuracy) per frame.
* :mod:`.refvos`: Ref-VOS / MeViS / ReVOS dataset scores (per expression -> dataset), ReVOS A and R.
* :mod:`.refvos_folders`: scoring a folder of predicted PNGs against ``meta_expressions.json`` + ``mask_dict.json``.
* :mod:`.referring_segmentation`: cIoU / gIoU (RefCOCO family, ReasonSeg).
* :mod:`.pixelqa`: PixelQA's volume J and pixel F1.
* :mod:`.multiple_choice`: option parsing and accuracy (VideoRefer-Bench-Q, PixelQA).

The MMEngine metrics are in :mod:`.mmengine_metrics` (imported on its own: this package does not need MMEngine).
"""
from .multiple_choice import (
                                     ChoiceAccuracy,
                                     ChoiceTally,
                                     answer_letter,
                                     choice_accuracy,
                                     parse_choice,
                                     score_choice,
)
from .pixelqa import pixel_f1, pixelqa_volume_j
from .referring_segmentation import (
                                     IoUAccumulator,
                                     cumulative_iou,
                                     generalized_iou,
                                     intersection_and_union,
                                     sample_iou,
)
from .refvos import (
                                     ExpressionScores,
                                     refvos_summary,
                                     revos_accuracy_robustness,
                                     revos_expression_percent,
                                     revos_summary,
                                     score_expression,
)
from .refvos_folders import (
                                     FolderScores,
                                     running_anno_ids,
                                     score_prediction_folder,
)
from .video_segmentation import (
                                     BOUND_TH,
                                     boundary_f,
                                     boundary_map,
                                     boundary_tolerance,
                                     j_and_f,
                                     jaccard,
                                     tolerance_disk,
)

__all__ = [
    'BOUND_TH', 'boundary_tolerance', 'tolerance_disk', 'boundary_map', 'jaccard', 'boundary_f', 'j_and_f',
    'ExpressionScores', 'score_expression', 'revos_accuracy_robustness', 'refvos_summary', 'revos_expression_percent',
    'revos_summary', 'FolderScores', 'running_anno_ids', 'score_prediction_folder',
    'intersection_and_union', 'sample_iou', 'cumulative_iou', 'generalized_iou', 'IoUAccumulator',
    'pixelqa_volume_j', 'pixel_f1',
    'parse_choice', 'answer_letter', 'score_choice', 'choice_accuracy', 'ChoiceTally', 'ChoiceAccuracy',
]
