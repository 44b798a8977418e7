# Stage 3 data: the 27-source mixture of upstream's final stage (repeat factors as in scripts/launch_3b.sh).
_base_ = ['./upstream_stage1.py']
train_dataloader = dict(
    num_workers=2,
    dataset=dict(datasets=(
        'revos:5,mevis:5,lvvis:3,ref_youtube_vos:5,ref_davis17:10,ref_sav:3,groundmore:3,vicas:3,reason_seg:10,'
        'ade20k:3,cocostuff:3,mapillary:3,paco_lvis:3,pascal_part:3,refcoco:10,refcoco+:10,refcocog:10,refclef:10,'
        'videorefer_detailed_caption:5,videorefer_qa:5,inst_it_video_qa_raw:5,osprey_conversation:5,'
        'osprey_detail_description:5,osprey_pos_neg:5,videorefer_qa_mem:3,inst_it_video_qa_raw_mem:3,'
        'llava_instruct_665k_videogpt_plus_576k')),
)
