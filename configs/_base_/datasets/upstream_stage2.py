# Stage 2 data: referring segmentation, images (RefCOCO family x5) and videos (Ref-YouTube-VOS x3).
_base_ = ['./upstream_stage1.py']
train_dataloader = dict(dataset=dict(datasets='refcoco:5,refcoco+:5,refcocog:5,refclef:5,ref_youtube_vos:3'))
