"""``unipixel leaderboard``: side-by-side tables and charts of any models' results."""
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


def add_evaluation_commands(sub) -> None:
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
