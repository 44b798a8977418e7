"""MMEngine registries of the ``unipixel_plugin`` scope.

One child registry per MMEngine root, each with lazy ``locations`` so that building ``dict(type=...)`` from a
config imports only the module that defines the component. ``default_scope = 'unipixel_plugin'`` in configs makes
MMEngine import this module (``<scope>.registry``), which is why this folder installs as
``unipixel_plugin.registry``.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import INFERENCERS as MMENGINE_INFERENCERS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNER_CONSTRUCTORS as MMENGINE_RUNNER_CONSTRUCTORS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import STRATEGIES as MMENGINE_STRATEGIES
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

SCOPE = 'unipixel_plugin'


def _child(name, parent, locations):
    return Registry(name, parent=parent, scope=SCOPE, locations=[f'{SCOPE}.{loc}' for loc in locations])


ENGINE = 'engine.registration'  # registers the engine's modules and the HF model's classes


# runners, loops and hooks that drive training and evaluation
RUNNERS = _child('runner', MMENGINE_RUNNERS, [ENGINE])
RUNNER_CONSTRUCTORS = _child('runner constructor', MMENGINE_RUNNER_CONSTRUCTORS, [ENGINE])
LOOPS = _child('loop', MMENGINE_LOOPS, [ENGINE])
HOOKS = _child('hook', MMENGINE_HOOKS, [ENGINE])
STRATEGIES = _child('strategy', MMENGINE_STRATEGIES, [ENGINE])
LOG_PROCESSORS = _child('log_processor', MMENGINE_LOG_PROCESSORS, [ENGINE])

# data: datasets, samplers, transforms and the collate functions
DATASETS = _child('dataset', MMENGINE_DATASETS, ['data', 'toy.refvos'])
DATA_SAMPLERS = _child('data sampler', MMENGINE_DATA_SAMPLERS, ['data'])
TRANSFORMS = _child('transform', MMENGINE_TRANSFORMS, ['data'])
FUNCTIONS = _child('function', MMENGINE_FUNCTIONS, ['data'])

# models: the UniPixel model and its components (prompt encoder, memory bank, SAM 2 mask head), registered by
# engine.registration (unipixel_plugin.models itself imports no MMEngine), and the training wrapper and losses
MODELS = _child('model', MMENGINE_MODELS, [ENGINE])
MODEL_WRAPPERS = _child('model_wrapper', MMENGINE_MODEL_WRAPPERS, [ENGINE])
WEIGHT_INITIALIZERS = _child('weight initializer', MMENGINE_WEIGHT_INITIALIZERS, [ENGINE])
TASK_UTILS = _child('task util', MMENGINE_TASK_UTILS, [ENGINE])

# optimisation
OPTIMIZERS = _child('optimizer', MMENGINE_OPTIMIZERS, [ENGINE])
OPTIM_WRAPPERS = _child('optim_wrapper', MMENGINE_OPTIM_WRAPPERS, [ENGINE])
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor', MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS, [ENGINE])
PARAM_SCHEDULERS = _child('parameter scheduler', MMENGINE_PARAM_SCHEDULERS, [ENGINE])

# evaluation and visualisation
METRICS = _child('metric', MMENGINE_METRICS, ['evaluation.metrics.mmengine_metrics'])
EVALUATOR = _child('evaluator', MMENGINE_EVALUATOR, ['evaluation'])
VISUALIZERS = _child('visualizer', MMENGINE_VISUALIZERS, [ENGINE])
VISBACKENDS = _child('vis_backend', MMENGINE_VISBACKENDS, [ENGINE])
INFERENCERS = _child('inferencer', MMENGINE_INFERENCERS, ['inference'])

__all__ = [
    'SCOPE', 'RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'HOOKS', 'STRATEGIES', 'LOG_PROCESSORS', 'DATASETS',
    'DATA_SAMPLERS', 'TRANSFORMS', 'FUNCTIONS', 'MODELS', 'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS', 'TASK_UTILS',
    'OPTIMIZERS', 'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS', 'METRICS', 'EVALUATOR',
    'VISUALIZERS', 'VISBACKENDS', 'INFERENCERS'
]
