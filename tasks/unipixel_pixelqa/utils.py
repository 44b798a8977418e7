"""Hooks of the unipixel_pixelqa_* tasks: the logic lives in unipixel_plugin.evaluation.lmms.pixelqa."""
from unipixel_plugin.evaluation.lmms.pixelqa import (  # noqa: F401
    aggregate_accuracy, aggregate_f, aggregate_j, aggregate_jf, doc_to_messages, doc_to_text, doc_to_visual,
    process_docs_for, process_results)

point_docs = process_docs_for('pixelqa', 'point')
box_docs = process_docs_for('pixelqa', 'box')
mix_docs = process_docs_for('pixelqa', 'mix')
