"""Hooks of the unipixel_videorefer_bench_q_* tasks: the logic lives in
unipixel_plugin.evaluation.lmms.region_questions."""
from unipixel_plugin.evaluation.lmms.region_questions import (  # noqa: F401
    accuracy_of, aggregate_accuracy, doc_to_messages, doc_to_text, doc_to_visual, process_docs_for, process_results)

single_docs = process_docs_for('videorefer_bench_q', 'single')
multi_docs = process_docs_for('videorefer_bench_q', 'multi')
aggregate_basic = accuracy_of('Basic Questions')
aggregate_sequential = accuracy_of('Sequential Questions')
aggregate_relationship = accuracy_of('Relationship Questions')
aggregate_reasoning = accuracy_of('Reasoning Questions')
aggregate_future = accuracy_of('Future Predictions')
