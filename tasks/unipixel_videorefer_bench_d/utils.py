"""Hooks of the unipixel_videorefer_bench_d_* tasks: the logic lives in
unipixel_plugin.evaluation.lmms.region_descriptions."""
from unipixel_plugin.evaluation.lmms.region_descriptions import (  # noqa: F401
    aggregate_descriptions, doc_to_messages, doc_to_text, doc_to_visual, process_docs_for, process_results)

single_docs = process_docs_for('videorefer_bench_d', 'single')
multi_docs = process_docs_for('videorefer_bench_d', 'multi')
