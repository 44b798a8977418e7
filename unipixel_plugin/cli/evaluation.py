"""``unipixel score`` (any model's predictions, scored with this package's metrics), ``unipixel export`` (an
lmms-eval run's masks as such predictions) and ``unipixel leaderboard`` (side-by-side tables and charts of any
models' results)."""
from __future__ import annotations


def cmd_leaderboard(args) -> int:
    from unipixel_plugin.evaluation.leaderboard import read_results, render, with_published
    entries = []
    for item in args.results:
        path, _, name = item.partition('=')
        entries += read_results(path, name or None)
    if args.published:
        entries = with_published(entries)
    written = render(entries, args.out, title=args.title)
    print(f'table  : {written["markdown"]}\nhtml   : {written["html"]}')
    for chart in written['charts']:
        print(f'chart  : {chart}')
    return 0


def cmd_score(args) -> int:
    import json

    from unipixel_plugin.evaluation.scoring import IMAGE_BENCHMARKS, format_table, score
    if args.benchmark in IMAGE_BENCHMARKS:
        options = dict(ignore=args.ignore, convention=args.iou_convention)
    else:
        options = dict(ar_convention=args.ar_convention, round_percent=not args.no_rounding)
    result = score(args.benchmark, args.pred, args.data_root, args.split, **options)
    print(format_table(result))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=1)
        print(f'json   : {args.json}')
    return 0


def cmd_export(args) -> int:
    from unipixel_plugin.evaluation.export import export_samples
    written = export_samples(args.samples, args.out, args.data_root, args.task)
    print(f'{written["task"]}: {written["predictions"]} prediction(s) ({written["kind"]}; {written["empty"]} without '
          'any mask pixel)')
    print(f'wrote  : {written["path"]}')
    return 0


def add_evaluation_commands(sub) -> None:
    from unipixel_plugin.evaluation.scoring import BENCHMARKS
    p = sub.add_parser('score', help="score a prediction folder of any model with this package's metrics",
                       description='Score PRED against a benchmark\'s native ground truth under --data-root / '
                       '$UNIPIXEL_DATA_ROOT: for video benchmarks the PNG tree <video>/<expression>/<frame>.png '
                       '(0/255), for refcoco/refcoco+/refcocog/reason_seg a folder holding predictions.json.')
    p.add_argument('benchmark', choices=BENCHMARKS)
    p.add_argument('pred', help='prediction folder')
    p.add_argument('--data-root', default=None, help='data root (default: $UNIPIXEL_DATA_ROOT)')
    p.add_argument('--split', default=None, help='split (default: the benchmark\'s evaluation split)')
    p.add_argument('--json', default=None, help='also write the scores (fractions) to this JSON file')
    p.add_argument('--ar-convention', choices=('binary', 'raw'), default='binary',
                   help='ReVOS A/R: masks read as != 0 (binary) or VISA\'s arithmetic on the PNG values (raw: 0/255 '
                   'and 0/1 PNGs then differ)')
    p.add_argument('--ignore', choices=('exclude', 'background'), default='exclude',
                   help='ReasonSeg "ignore" regions: left out of the score (LISA) or background (upstream UniPixel)')
    p.add_argument('--iou-convention', choices=('exact', 'lisa'), default='exact',
                   help="cIoU/gIoU arithmetic: exact (upstream UniPixel) or LISA's float32 with +1e-5")
    p.add_argument('--no-rounding', action='store_true',
                   help='ReVOS: average unrounded expression scores (upstream rounds each to 0.01 %%)')
    p.set_defaults(func=cmd_score)

    p = sub.add_parser('export', help="an lmms-eval run's masks as the prediction files `unipixel score` reads",
                       description='Read the *_samples_<task>.jsonl that lmms-eval --log_samples wrote for one of '
                       "this package's mask tasks and write its predictions: predictions.json (refcoco family, "
                       'reason_seg) or the PNG tree <video>/<expression>/<frame>.png (video benchmarks).')
    p.add_argument('samples', help='the *_samples_<task>.jsonl file')
    p.add_argument('out', help='output folder')
    p.add_argument('--data-root', default=None, help='the data root the run read (default: $UNIPIXEL_DATA_ROOT): '
                   'the documents are built from it again, as the task built them')
    p.add_argument('--task', default=None, help='the task (default: from the file name)')
    p.set_defaults(func=cmd_export)

    p = sub.add_parser('leaderboard', help='side-by-side table (Markdown, HTML) and charts of results files',
                       description='Read lmms-eval results files (<output>/<model>/<date>_results.json) and '
                       '`unipixel score` JSONs of any models; write leaderboard.md, leaderboard.html and one bar '
                       'chart PNG per benchmark.')
    p.add_argument('results', nargs='+', metavar='RESULTS[=NAME]',
                   help='a results file, optionally =NAME to name its model on the board')
    p.add_argument('--out', required=True, help='output folder')
    p.add_argument('--published', action='store_true',
                   help='add the published rows (UniPixel 3B/7B, Sa2VA, VISA, LISA, GPT-4o) and deltas where '
                   'benchmark, split, protocol and metric match')
    p.add_argument('--title', default='UniPixel leaderboard')
    p.set_defaults(func=cmd_leaderboard)


__all__ = ['add_evaluation_commands']
