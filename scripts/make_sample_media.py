"""Draw the bundled sample media (unipixel_plugin/assets/): a picture and a 16-frame video with simple shapes."""
import os

import cv2
import numpy as np

OUT = os.path.join(os.path.dirname(__file__), '..', 'unipixel_plugin', 'assets')


def scene(t: int, h: int = 120, w: int = 160) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([60 + 40 * x / w, 90 + 50 * y / h, np.full_like(x, 70.0, dtype=float)], -1).astype(np.uint8)
    cv2.rectangle(img, (20 + 4 * t, 30), (60 + 4 * t, 70), (220, 30, 30), -1)  # red square, moving right
    cv2.circle(img, (115, 80 - t), 18, (30, 60, 220), -1)  # blue circle, moving up
    return img


if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    cv2.imwrite(os.path.join(OUT, 'sample.png'), scene(0)[..., ::-1])
    writer = cv2.VideoWriter(os.path.join(OUT, 'sample.mp4'), cv2.VideoWriter_fourcc(*'mp4v'), 8, (160, 120))
    for t in range(16):
        writer.write(np.ascontiguousarray(scene(t)[..., ::-1]))
    writer.release()
    print('wrote', sorted(os.listdir(OUT)))
