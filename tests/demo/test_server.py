"""The served demo: what it refuses to serve, where it listens, and the ``unipixel demo`` command's guards."""
import os
import urllib.error
import urllib.request

import pytest

pytest.importorskip('gradio')


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


@pytest.fixture
def served(handlers, serve):
    return serve(handlers)


def test_the_server_serves_only_its_own_folders(served, handlers, tmp_path):
    base = served.local_url.rstrip('/') + '/gradio_api/file='
    result = handlers.folders.outputs / 'result.json'
    result.write_text('{}')
    outside = tmp_path / 'private.txt'  # next to the demo's folder, not in it
    outside.write_text('secret')
    assert status(base + str(result)) == 200  # so a refusal below is the rule, not a broken route
    assert status(base + str(handlers.folders.sample('image'))) == 200
    assert status(base + '/etc/passwd') == 403
    assert status(base + str(outside)) == 403
    assert status(base + str(handlers.folders.outputs) + '/../../private.txt') == 403
    assert status(base + os.path.abspath(__file__)) == 403  # the working tree (Gradio's old default) is not served
    assert os.environ['GRADIO_TEMP_DIR'] == str(handlers.folders.uploads)


def test_the_server_listens_on_loopback_without_a_share_link(served):
    assert served.server_name == '127.0.0.1'
    assert not served.share and served.share_url is None
    assert served.local_url.startswith('http://127.0.0.1:')


def test_other_hosts_need_an_explicit_flag(handlers):
    from unipixel_plugin.demo.app import check_host, launch_demo
    for host in ('127.0.0.1', 'localhost', '::1'):
        check_host(host, allow_remote=False)
    check_host('0.0.0.0', allow_remote=True)
    with pytest.raises(ValueError, match='--allow-remote'):
        launch_demo(handlers, host='0.0.0.0', port=0, prevent_thread_lock=True)  # refused before binding


def test_page_errors_are_messages_not_tracebacks():
    import gradio as gr

    from unipixel_plugin.demo import UploadError
    from unipixel_plugin.demo.app import shown_in_page
    with pytest.raises(gr.Error) as caught, shown_in_page():
        raise UploadError('<img src=x onerror=alert(1)>.png: unsupported file type')
    assert caught.value.message == '&lt;img src=x onerror=alert(1)&gt;.png: unsupported file type'
    assert caught.value.print_exception is False
    with pytest.raises(gr.Error, match='internal error: KeyError'), shown_in_page():
        raise KeyError('boom')


def test_cli_demo_refuses_a_public_host_before_loading_a_model(capsys):
    from unipixel_plugin.cli import main
    assert main(['demo', '--host', '0.0.0.0', '--checkpoint', '/nonexistent']) == 2
    assert '--allow-remote' in capsys.readouterr().err


def test_cli_demo_options():
    from unipixel_plugin.cli import build_parser
    args = build_parser().parse_args(['demo'])
    assert (args.host, args.port, args.allow_remote, args.share, args.checkpoint) == ('127.0.0.1', 7860, False,
                                                                                     False, None)
    args = build_parser().parse_args(['demo', '--max-upload-mb', '5', '--max-frames', '100', '--share'])
    assert (args.max_upload_mb, args.max_frames, args.share) == (5.0, 100, True)
