# A new UniPixel as upstream starts each stage: Qwen2.5-VL-Instruct + SAM 2.1 Hiera-B+ at 768 px (bf16 weights,
# SAM 2 in float32). Paths come from the environment (or --cfg-options model.base_model.path=...):
#   UNIPIXEL_QWEN_3B          Qwen2.5-VL-3B-Instruct folder (7B configs read UNIPIXEL_QWEN_7B)
#   UNIPIXEL_SAM2_CHECKPOINT  sam2.1_hiera_base_plus.pt
model = dict(
    type='UniPixelModel',
    base_model=dict(
        path='{{$UNIPIXEL_QWEN_3B:unset-UNIPIXEL_QWEN_3B}}',
        sam2_checkpoint='{{$UNIPIXEL_SAM2_CHECKPOINT:unset-UNIPIXEL_SAM2_CHECKPOINT}}',
        sam2_config='configs/sam2.1_hiera_b+',
        sam2_image_size=768,
        sam2_hidden_tokens=2,
    ),
    dtype='bfloat16',
    attn_implementation='sdpa',
    gradient_checkpointing=True,
    mask_loss=dict(type='SAM2MaskLoss'),
    data_preprocessor=dict(type='UniPixelDataPreprocessor'),
)
