"""Hooks of the unipixel_refcoco* tasks: the logic lives in unipixel_plugin.evaluation.lmms.refer_segmentation."""
from unipixel_plugin.evaluation.lmms.refer_segmentation import (  # noqa: F401
    aggregate_ciou, aggregate_giou, doc_to_messages, doc_to_text, doc_to_visual, process_docs_for,
    process_results)

refcoco_val_docs = process_docs_for('refcoco', 'val')
refcoco_testA_docs = process_docs_for('refcoco', 'testA')
refcoco_testB_docs = process_docs_for('refcoco', 'testB')
refcoco_plus_val_docs = process_docs_for('refcoco+', 'val')
refcoco_plus_testA_docs = process_docs_for('refcoco+', 'testA')
refcoco_plus_testB_docs = process_docs_for('refcoco+', 'testB')
refcocog_val_docs = process_docs_for('refcocog', 'val')
refcocog_test_docs = process_docs_for('refcocog', 'test')
