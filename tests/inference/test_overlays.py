"""Overlay pictures: a mask stays visible on an object of its own colour; captions wrap instead of being cut."""
import numpy as np

from unipixel_plugin.inference.outputs import PALETTE, caption_lines, overlay


def test_a_mask_shows_on_an_object_of_its_own_colour():
    frame = np.zeros((40, 60, 3), np.uint8)
    frame[:] = PALETTE[0].astype(np.uint8)  # the whole picture in object 0's colour
    mask = np.zeros((40, 60), bool)
    mask[10:30, 20:40] = True
    out = overlay(frame, [mask]).astype(int)
    ring = np.zeros_like(mask)
    ring[9:31, 19:41] = True
    ring &= ~mask
    for y, x in ((9, 19), (9, 40), (30, 19), (30, 40)):  # the ring grows by 4-neighbours: no diagonal corners
        ring[y, x] = False
    # the one-pixel ring outside the mask contrasts with the colour (white on tab-blue); inside, nothing changed
    assert (out[ring] == 255).all()
    assert np.abs(out[mask] - PALETTE[0]).max() <= 1
    assert (np.abs(out[~ring & ~mask] - PALETTE[0]) <= 1).all()


def test_a_mask_on_the_border_does_not_wrap_around():
    frame = np.full((20, 20, 3), 128, np.uint8)
    mask = np.zeros((20, 20), bool)
    mask[:5, :5] = True
    out = overlay(frame, [mask])
    assert (out[-1] == 128).all() and (out[:, -1] == 128).all()  # np.roll would have drawn the ring here


def test_captions_wrap_onto_lines_and_say_when_cut():
    lines = caption_lines('TOY model (shapes only): Sure, it is <|seg|>.', 160)
    assert len(lines) == 2 and ' '.join(lines) == 'TOY model (shapes only): Sure, it is <|seg|>.'
    long = caption_lines('word ' * 100, 160)
    assert len(long) == 3 and long[-1].endswith('...')
    picture = overlay(np.zeros((120, 160, 3), np.uint8), [], caption='a ' * 40)
    assert picture.shape == (120, 160, 3) and picture[:34].any() and not picture[40:].any()
