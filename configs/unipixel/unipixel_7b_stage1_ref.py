# UniPixel-7B stage1 ref: the 3B recipe on Qwen2.5-VL-7B-Instruct (upstream scripts/launch_7b.sh).
_base_ = ['./unipixel_3b_stage1_ref.py']
model = dict(base_model=dict(path='{{$UNIPIXEL_QWEN_7B:unset-UNIPIXEL_QWEN_7B}}'))
