"""The package layout: import arrows point one way (cli / evaluation / engine -> inference -> models / data ->
prompts / masks), no module imports one that imports it back, and the HF side imports no MMEngine."""
import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / 'unipixel_plugin'
# layer of each top-level part; a module may import its own layer or lower ones only
LAYERS = {
    'prompts': 0, 'masks': 0, 'registry': 0,
    'models': 1, 'data': 1,
    'inference': 2,
    'toy': 3,
    'engine': 4, 'evaluation': 4, 'cli': 5, 'demo': 5,
}


def _modules():
    for path in sorted(ROOT.rglob('*.py')):
        rel = path.relative_to(ROOT)
        if rel.parts[0].startswith('.'):
            continue  # .mim/tools: scripts, not modules
        parts = ['unipixel_plugin', *rel.with_suffix('').parts]
        if parts[-1] == '__init__':
            parts = parts[:-1]
        yield '.'.join(parts), path


MODULES = dict(_modules())


def _imports(name, path):
    """Every module of the package ``name`` imports (module level and inside functions), and third-party roots."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == '__init__.py' else name.rsplit('.', 1)[0]
    ours, third = set(), set()
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[:len(base) - node.level + 1]
                mod = '.'.join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            targets = [f'{mod}.{a.name}' if f'{mod}.{a.name}' in MODULES else mod for a in node.names]
        for target in targets:
            if target.startswith('unipixel_plugin'):
                while target not in MODULES:
                    target = target.rsplit('.', 1)[0]
                if not name.startswith(target + '.') and target != name:  # a package's own __init__ is implicit
                    ours.add(target)
            else:
                third.add(target.split('.')[0])
    return ours, third


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _part(module):
    parts = module.split('.')
    return parts[1] if len(parts) > 1 else ''


def test_import_arrows_point_one_way():
    wrong = []
    for name, (ours, _) in GRAPH.items():
        if _part(name) not in LAYERS:
            continue
        for target in ours:
            if _part(target) in LAYERS and LAYERS[_part(target)] > LAYERS[_part(name)]:
                wrong.append(f'{name} -> {target}')
    assert not wrong, 'imports that point up the layers:\n' + '\n'.join(sorted(wrong))


def test_no_import_cycles():
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v][0]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            visit(v)
    assert not cycles, f'modules that import each other: {cycles}'


@pytest.mark.parametrize('module', sorted(m for m in MODULES if _part(m) in ('models', 'prompts', 'masks')))
def test_the_hf_side_imports_no_mmengine(module):
    _, third = GRAPH[module]
    assert not third & {'mmengine', 'mmcv', 'mmdet', 'mmseg', 'lmms_eval'}, (module, sorted(third))


def _code_strings(path):
    """String constants of a module's code (docstrings left out: they may quote the wordings)."""
    tree = ast.parse(path.read_text())
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docs.add(id(first.value))
    return [n.value for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]


def test_one_home_for_tokens_wording_and_masks():
    """Special-token strings and prompt wordings live in prompts.py; RLE coding in masks.py."""
    offenders = []
    for name, path in MODULES.items():
        if name in ('unipixel_plugin.prompts', 'unipixel_plugin.masks'):
            continue
        strings = _code_strings(path)
        for token in ('<|seg|>', '<|ref|>', '<|mem|>'):
            if token in strings:
                offenders.append(f'{name}: {token}')
        for wording in ('Please segment the', 'highlighted regions', 'Please localize', 'The best option is',
                        'Please provide the segmentation mask', 'Sure, it is'):
            if any(wording in s for s in strings):
                offenders.append(f'{name}: {wording!r}')
        if 'mask_utils.decode(' in path.read_text() or 'mask_utils.encode(' in path.read_text():
            offenders.append(f'{name}: its own COCO RLE coding')
    assert not offenders, '\n'.join(offenders)


def test_the_task_folder_exists_in_the_installed_package():
    from unipixel_plugin.cli.tasks import tasks_path
    assert tasks_path().is_dir() and (tasks_path() / 'README.md').is_file()
