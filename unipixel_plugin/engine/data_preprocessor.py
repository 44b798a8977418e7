"""From collated samples (:func:`unipixel_plugin.data.unipixel_collate`) to UniPixel's model inputs.

The data package stays model-agnostic (frames, masks, prompts, conversations); this preprocessor, which lives
with the model, renders the conversation with the checkpoint's chat template, tokenises it with the video
(:class:`~unipixel_plugin.processing.UniPixelInputs`), and builds the training targets the way upstream does:

* ``labels``: the assistant turns (their text and the closing ``<|im_end|>``) are supervised, everything else is
  ``IGNORE_INDEX`` (system and user turns, the ``<|im_start|>assistant\\n`` headers, padding);
* ``label_mask``: per sample ``(T, O, S, S)`` bool, the ground-truth masks of the ``O`` objects resized to the
  SAM 2 input size ``S`` (bilinear, then ``> 0``), one object per ``<|seg|>`` token in order;
* ``<|ref|>`` prompts (``point_coords`` / ``point_labels`` / ``point_frames``) from the samples' point/box prompts
  and ``refer_mask`` for ``<|mem|>`` tokens from the objects' masks.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor

from unipixel_plugin.models.object_memory import mem_prompt_prefix, refer_mask_from_masks
from unipixel_plugin.models.processing_unipixel import PromptObject, UniPixelInputs, prompt_tensors
from unipixel_plugin.prompts import MEM_TOKEN, REF_TOKEN, SEG_TOKEN
from unipixel_plugin.registry import MODELS

IGNORE_INDEX = -100

# keys of the collated batch that are per-sample lists (see unipixel_collate)
SAMPLE_KEYS = ('ids', 'sources', 'data_types', 'conversations', 'frames', 'frame_sizes', 'masks', 'prompts',
               'object_ids', 'meta')


class ConversationInputs(UniPixelInputs):
    """:class:`UniPixelInputs` that also renders whole multi-turn conversations.

    ``text`` may be a list of ``{'role', 'content'}`` turns: the media goes with the first user turn; a
    conversation that ends with a user turn gets the generation prompt.
    """

    def render(self, user_text, response=None, add_generation_prompt=True) -> str:
        if isinstance(user_text, str):
            return super().render(user_text, response, add_generation_prompt)
        return render_conversation(self.processor, user_text, with_video=True)


def render_conversation(processor, conversation: Sequence[dict], with_video: bool) -> str:
    """Chat-template text of ``conversation``; ends with the assistant header if the last turn is a user's."""
    if not conversation or conversation[0].get('role') != 'user':
        raise ValueError('a conversation must start with a user turn, got '
                         f'{conversation[0].get("role") if conversation else "nothing"}')
    messages = []
    for i, turn in enumerate(conversation):
        if turn.get('role') not in ('user', 'assistant'):
            raise ValueError(f'turn {i} has role {turn.get("role")!r}; expected "user" or "assistant"')
        content = turn['content']
        if i == 0 and with_video:
            content = [{'type': 'video'}, {'type': 'text', 'text': content}]
        messages.append({'role': turn['role'], 'content': content})
    generation = conversation[-1]['role'] == 'user'
    text = processor.apply_chat_template(messages, add_generation_prompt=generation, tokenize=False)
    # upstream strips the text it trains on, so no newline follows the last <|im_end|>
    return text if generation else text.rstrip()


def assistant_labels(input_ids: torch.Tensor, header: Sequence[int], end_id: int) -> torch.Tensor:
    """``(L,)`` token ids -> labels: the tokens after each assistant header up to and including ``end_id``."""
    labels = torch.full_like(input_ids, IGNORE_INDEX)
    ids = input_ids.tolist()
    n = len(header)
    i = 0
    while i <= len(ids) - n:
        if ids[i:i + n] != list(header):
            i += 1
            continue
        start = end = i + n
        while end < len(ids) and ids[end] != end_id:
            end += 1
        stop = min(end + 1, len(ids))  # the closing <|im_end|> is supervised too
        labels[start:stop] = input_ids[start:stop]
        i = stop
    return labels


def resize_masks(masks: torch.Tensor, size: int) -> torch.Tensor:
    """``(O, T, H, W)`` bool object masks -> ``(T, O, size, size)`` bool (bilinear, antialiased, then ``> 0``)."""
    objects, frames, height, width = masks.shape
    x = masks.reshape(objects * frames, 1, height, width).float()
    x = F.interpolate(x, size=(size, size), mode='bilinear', align_corners=False, antialias=True)
    return (x > 0).reshape(objects, frames, size, size).transpose(0, 1).contiguous()


@MODELS.register_module()
class UniPixelDataPreprocessor(BaseDataPreprocessor):
    """Turns a collated batch into ``dict(data=<model kwargs>, data_samples=<per-sample dicts>)``.

    ``data`` holds the teacher-forced batch (right-padded ``input_ids``, ``attention_mask``, ``labels``, the
    video tensors, ``frames``/``frame_size``, prompt tensors, ``label_mask``); ``data_samples`` keeps each sample's
    raw fields (``id``, ``conversation``, uint8 ``frames``, ``masks``, ``prompts`` ...) so that predict mode can
    build generation prompts with :meth:`generation_inputs`.

    Args:
        checkpoint: the UniPixel checkpoint folder whose processor (tokenizer, chat template) and config
            (``sam2_image_size``) to use; :class:`~unipixel_plugin.engine.UniPixelModel` fills it in.
        min_pixels / max_pixels: fixed LLM frame-size bounds; None: upstream's training budgets
            (``models.processing_unipixel.PIXEL_BUDGETS``): ``256*28*28*max(1, min(int(sample_frames/T),
            sample_frames))`` for segmentation / referring / region / memory samples, 2048*28*28 (images) and
            256*28*28 (videos) for instruction (``multimodal``) samples, ``min_pixels`` 128*28*28.
        sample_frames: the recipe's frame count in that budget (upstream: 8).
        max_length: longest tokenised sample accepted (``None``: no limit); longer samples raise, because
            truncating would cut vision or ``<|seg|>`` tokens.
        processor / sam2_image_size: give these instead of ``checkpoint`` to reuse loaded objects.
    """

    def __init__(self, checkpoint: Optional[str] = None, min_pixels: Optional[int] = None,
                 max_pixels: Optional[int] = None, max_length: Optional[int] = None, processor=None,
                 sam2_image_size: Optional[int] = None, non_blocking: bool = False, sample_frames: int = 8):
        super().__init__(non_blocking)
        if processor is None or sam2_image_size is None:
            if checkpoint is None:
                raise ValueError('UniPixelDataPreprocessor needs checkpoint= (a UniPixel checkpoint folder) or both '
                                 'processor= and sam2_image_size=')
            from transformers import AutoProcessor

            from unipixel_plugin.models import PixelQwen2_5_VLConfig
            processor = processor or AutoProcessor.from_pretrained(str(checkpoint))
            sam2_image_size = sam2_image_size or PixelQwen2_5_VLConfig.from_pretrained(str(checkpoint)).sam2_image_size
        self.processor = processor
        self.sam2_image_size = int(sam2_image_size)
        self.max_length = max_length
        self.inputs = ConversationInputs(processor, self.sam2_image_size, min_pixels, max_pixels, budget='train',
                                         sample_frames=sample_frames)
        tokenizer = processor.tokenizer
        ids = tokenizer.convert_tokens_to_ids(['<|im_start|>', '<|im_end|>', SEG_TOKEN, REF_TOKEN, MEM_TOKEN])
        if any(i is None or i == tokenizer.unk_token_id for i in ids):
            raise ValueError(f'the tokenizer of {checkpoint} lacks chatml or UniPixel special tokens: {ids}')
        self.im_start_id, self.im_end_id, self.seg_token_id, self.ref_token_id, self.mem_token_id = ids
        self.assistant_header = [self.im_start_id] + tokenizer.encode('assistant\n', add_special_tokens=False)
        self.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.im_end_id

    # ------------------------------------------------------------------ batch
    def forward(self, data: dict, training: bool = False) -> dict:
        samples = split_batch(data)
        teacher_forced = all(s['conversation'] and s['conversation'][-1]['role'] == 'assistant' for s in samples)
        if training and not teacher_forced:
            bad = [s['id'] for s in samples if not s['conversation'] or s['conversation'][-1]['role'] != 'assistant']
            raise ValueError(f'training samples must end with an assistant turn; these do not: {bad}')
        batch = self.collate([self.sample_inputs(s) for s in samples]) if teacher_forced else None
        return dict(data=batch, data_samples=samples)

    def sample_inputs(self, sample: dict, generation: bool = False) -> dict:
        """Model inputs (batch of one) for ``sample``: teacher-forced with ``labels`` and ``label_mask``, or the
        prompt up to the last user turn when ``generation``."""
        conversation = list(sample['conversation'])
        if generation:
            while conversation and conversation[-1]['role'] == 'assistant':
                conversation.pop()
            if not conversation:
                raise ValueError(f'sample {sample["id"]}: no user turn to answer')
        frames = sample['frames']
        conversation = self.with_memory_prefix(sample, conversation)
        if frames is not None:
            out = self.inputs(frames, conversation, budget=self.budget_of(sample, frames))
        else:
            text = render_conversation(self.processor, conversation, with_video=False)
            out = dict(self.processor.tokenizer([text], return_tensors='pt'))
        input_ids = out['input_ids'][0]
        if self.max_length is not None and input_ids.numel() > self.max_length:
            raise ValueError(f'sample {sample["id"]}: {input_ids.numel()} tokens exceed max_length={self.max_length}; '
                             'raise max_length or sample fewer frames / smaller frames (max_pixels)')
        masks = sample['masks']
        if sample['prompts']:
            if frames is None:
                raise ValueError(f'sample {sample["id"]}: point/box prompts need frames')
            objects = [PromptObject(point=tuple(map(float, p.coords[0])), frame=int(p.frame)) if p.kind == 'point'
                       else PromptObject(box=tuple(map(float, p.coords.reshape(-1))), frame=int(p.frame))
                       for p in sample['prompts']]
            coords, labels, frame_idx = prompt_tensors(objects, tuple(frames.shape[1:3]), self.sam2_image_size,
                                                       frames.shape[0], source=f'sample {sample["id"]}')
            out.update(point_coords=[coords], point_labels=[labels], point_frames=[frame_idx])
        if (input_ids == self.mem_token_id).any():
            if masks is None or frames is None:
                raise ValueError(f'sample {sample["id"]}: {MEM_TOKEN} tokens need object masks and frames')
            out['refer_mask'] = [refer_mask_from_masks(masks.transpose(0, 1), out['video_grid_thw'])]
        if not generation:
            out['labels'] = assistant_labels(input_ids, self.assistant_header, self.im_end_id)[None]
            if (out['labels'] == IGNORE_INDEX).all():
                raise ValueError(f'sample {sample["id"]}: no assistant tokens to supervise')
            num_seg = int((input_ids[1:] == self.seg_token_id).sum())
            out['label_mask'] = [None]
            if num_seg:
                num_objects = 0 if masks is None else masks.size(0)
                if num_objects != num_seg or frames is None:
                    raise ValueError(f'sample {sample["id"]}: {num_seg} {SEG_TOKEN} token(s) but {num_objects} object '
                                     'mask(s); each <|seg|> is supervised by one object, in order')
                out['label_mask'] = [resize_masks(masks, self.sam2_image_size)]
        return out

    @staticmethod
    def budget_of(sample: dict, frames) -> str:
        """The pixel-budget path of a sample: instruction data has its own (image / video), the rest 'train'."""
        if sample.get('data_type') == 'multimodal':
            return 'train_image_instruct' if frames.shape[0] == 1 else 'train_video_instruct'
        return 'train'

    def with_memory_prefix(self, sample: dict, conversation: list) -> list:
        """Region samples (mask prompts): put upstream's "Here is a video with T frames ... highlighted regions"
        prefix, with one ``<|mem|>`` per object and temporal group where its mask is non-empty, before the first
        user turn. Readers leave it out because it depends on the sampled frames and masks."""
        if not str(sample.get('data_type', '')).startswith('region_'):
            return conversation
        first = next((i for i, turn in enumerate(conversation) if turn['role'] == 'user'), None)
        if first is None or MEM_TOKEN in conversation[first]['content']:
            return conversation
        masks, frames = sample['masks'], sample['frames']
        if masks is None or frames is None or masks.size(0) == 0:
            raise ValueError(f'sample {sample["id"]}: a {sample["data_type"]} sample needs object masks and frames')
        grid = self.inputs.grid_for(frames, budget=self.budget_of(sample, frames))
        refer = refer_mask_from_masks(masks.transpose(0, 1), grid)
        # region readers number objects [N] with object_id == N; other sources' ids (anno-id lists) are not names
        ids = sample.get('object_ids') or []
        ids = ids if len(ids) == masks.size(0) and all(isinstance(i, int) for i in ids) else None
        prefix = mem_prompt_prefix(refer, frames.shape[0], ids)
        conversation = list(conversation)
        conversation[first] = dict(conversation[first], content=prefix + conversation[first]['content'])
        return conversation

    def generation_inputs(self, sample: dict) -> dict:
        """Inputs for ``generate`` on one sample (its conversation up to the last user turn), on the device."""
        return self.cast_data(self.sample_inputs(sample, generation=True))

    def collate(self, items: list[dict]) -> dict:
        """Right-pad and concatenate per-sample inputs into one batch on the device."""
        length = max(item['input_ids'].size(1) for item in items)
        pad_values = dict(input_ids=self.pad_token_id, attention_mask=0, labels=IGNORE_INDEX, mm_token_type_ids=0)
        batch: dict = {}
        for key, value in pad_values.items():
            if all(key in item for item in items):
                batch[key] = torch.cat([F.pad(item[key], (0, length - item[key].size(1)), value=value)
                                        for item in items])
        for key in ('pixel_values_videos', 'video_grid_thw', 'second_per_grid_ts'):
            parts = [item[key] for item in items if key in item]
            if parts:
                batch[key] = torch.cat(parts)
        lists = ('frames', 'frame_size', 'point_coords', 'point_labels', 'point_frames', 'refer_mask', 'label_mask')
        for key in lists:
            if any(key in item for item in items):
                batch[key] = [item[key][0] if key in item else default_entry(key) for item in items]
        return self.cast_data(batch)


def default_entry(key: str):
    """What a sample without ``key`` contributes to a per-sample list (no prompts / no masks / no frames)."""
    if key in ('point_coords', 'point_labels'):
        return []
    if key == 'point_frames':
        return [torch.zeros(0, dtype=torch.long)]
    return None


def split_batch(data: dict) -> list[dict]:
    """The collated dict of lists -> one dict per sample (keys in singular: ``id``, ``conversation``, ...)."""
    missing = [k for k in SAMPLE_KEYS if k not in data]
    if missing:
        raise KeyError(f'the batch lacks {missing}: use collate_fn=dict(type="unipixel_plugin.unipixel_collate") '
                       'and a dataset that yields loaded Samples (HybridDataset or a reader with LoadSample)')
    singular = dict(ids='id', sources='source', data_types='data_type', conversations='conversation',
                    frames='frames', frame_sizes='frame_size', masks='masks', prompts='prompts',
                    object_ids='object_ids', meta='meta')
    size = len(data['ids'])
    return [{singular[k]: data[k][i] for k in SAMPLE_KEYS} for i in range(size)]


__all__ = ['UniPixelDataPreprocessor', 'ConversationInputs', 'render_conversation', 'assistant_labels',
           'resize_masks', 'split_batch', 'IGNORE_INDEX']
