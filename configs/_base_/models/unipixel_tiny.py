# The tiny UniPixel of unipixel_plugin.toy (~0.3 M-parameter Qwen2.5-VL + SAM 2.1 Hiera-T at 128 px), made on
# first use under $UNIPIXEL_TOY_ROOT (or the user cache). Use a real checkpoint with
# --cfg-options model.pretrained=/path/to/UniPixel-3B
model = dict(
    type='UniPixelModel',
    pretrained='toy',
    trainable='all',
    mask_loss=dict(type='SAM2MaskLoss'),
    generation=dict(max_new_tokens=16),
    data_preprocessor=dict(type='UniPixelDataPreprocessor', min_pixels=56 * 56, max_pixels=112 * 112),
)
