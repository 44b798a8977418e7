# Stage 1 data (upstream scripts/launch_3b.sh): region captions with point/box prompts. Data root: $UNIPIXEL_DATA_ROOT
# (the extracted UniPixel-SFT-1M; see docs/data.md) or --cfg-options train_dataloader.dataset.data_root=...
train_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DataTypeGroupedSampler', batch_size=1),
    collate_fn=dict(type='unipixel_plugin.unipixel_collate'),
    dataset=dict(
        type='HybridDataset',
        datasets='videorefer_short_caption_ref,inst_it_image_short_caption_raw_ref',
        data_root=None,
        num_frames=8,
        sample_type='random',
        max_objects=5,
        max_turns=3,
        seed=42,
    ),
)
