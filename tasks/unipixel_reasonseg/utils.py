"""Hooks of the unipixel_reasonseg* tasks: the logic lives in unipixel_plugin.evaluation.lmms.refer_segmentation."""
from unipixel_plugin.evaluation.lmms.refer_segmentation import (  # noqa: F401
    aggregate_ciou, aggregate_giou, doc_to_messages, doc_to_text, doc_to_visual, process_docs_for,
    process_results)

val_docs = process_docs_for('reason_seg', 'val')
test_docs = process_docs_for('reason_seg', 'test')
val_ignore_background_docs = process_docs_for('reason_seg', 'val', ignore='background')
test_ignore_background_docs = process_docs_for('reason_seg', 'test', ignore='background')
