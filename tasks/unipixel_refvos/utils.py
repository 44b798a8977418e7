"""Hooks of the unipixel Ref-VOS tasks: the logic lives in
unipixel_plugin.evaluation.lmms.refer_video_segmentation."""
from unipixel_plugin.evaluation.lmms.refer_video_segmentation import (  # noqa: F401
    aggregate_f, aggregate_j, aggregate_jf, aggregate_revos_overall, aggregate_revos_overall_f,
    aggregate_revos_overall_j, aggregate_submission, doc_to_messages, doc_to_text,
    doc_to_visual, process_docs_for, process_results, process_results_submission)

mevis_valid_u_docs = process_docs_for('mevis', 'valid_u')
ref_davis17_valid_docs = process_docs_for('ref_davis17', 'valid')
revos_valid_docs = process_docs_for('revos', 'valid')
ref_sav_valid_docs = process_docs_for('ref_sav', 'valid')
mevis_valid_docs = process_docs_for('mevis', 'valid')
ref_youtube_vos_valid_docs = process_docs_for('ref_youtube_vos', 'valid')
groundmore_test_docs = process_docs_for('groundmore', 'test')
