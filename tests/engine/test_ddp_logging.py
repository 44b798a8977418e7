"""Under DDP the logged losses are the mean over ranks (each rank back-propagates its own)."""
import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _rank(rank: int, port: int, queue) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    try:
        from unipixel_plugin.engine.model import UniPixelModel
        model = object.__new__(UniPixelModel)  # parse_losses needs no weights
        torch.nn.Module.__init__(model)
        losses = {'loss_lm': torch.tensor(1.0 + 2 * rank, requires_grad=True)}
        if rank == 0:  # ranks can hold batches of different data types, i.e. different loss names
            losses['loss_seg'] = torch.tensor(4.0, requires_grad=True)
        loss, log_vars = model.parse_losses(losses)
        queue.put((rank, float(loss), {k: float(v) for k, v in log_vars.items()}, loss.requires_grad))
    except Exception as err:  # reported by the test instead of a silent timeout
        import traceback
        queue.put((rank, None, traceback.format_exc(), err))
    finally:
        dist.destroy_process_group()


def test_logged_losses_are_the_mean_over_ranks():
    ctx = mp.get_context('fork')  # the children run this module's function (a spawned child could not import it)
    queue = ctx.Queue()
    port = _free_port()
    procs = [ctx.Process(target=_rank, args=(r, port, queue)) for r in range(2)]
    for p in procs:
        p.start()
    results = {}
    for _ in procs:
        rank, loss, log_vars, grad = queue.get(timeout=120)
        assert loss is not None, log_vars  # the child's traceback
        results[rank] = (loss, log_vars, grad)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    # each rank back-propagates its own loss ...
    assert results[0][0] == 5.0 and results[1][0] == 3.0 and results[0][2] and results[1][2]
    # ... and logs the global means: loss_lm (1 + 3) / 2; loss_seg only rank 0 has; loss (5 + 3) / 2
    for rank in (0, 1):
        log_vars = results[rank][1]
        assert log_vars['loss_lm'] == 2.0 and log_vars['loss'] == 4.0
    assert results[0][1]['loss_seg'] == 4.0 and 'loss_seg' not in results[1][1]
