"""Python inference: load UniPixel once, then segment media from sentences and ask about regions."""
from unipixel_plugin.inference.media import Media, load_media
from unipixel_plugin.inference.predictor import (Request, RequestError, RLEMasks, UniPixelPredictor,
                                                 UniPixelResult)
from unipixel_plugin.inference.session import Conversation
from unipixel_plugin.models.processing_unipixel import PromptObject

__all__ = ['Media', 'load_media', 'UniPixelPredictor', 'UniPixelResult', 'Request', 'RequestError', 'RLEMasks',
           'Conversation', 'PromptObject']
