"""Headstart's speech plugin: wav2vec 2.0-family sources, speech recognition (CTC) and audio
classification tasks, LibriSpeech / Common Voice / audio-folder / CSV readers.

Installed as its own distribution (``headstart-speech``) and discovered through the ``headstart``
entry-point group; everything it contributes is registered in :mod:`headstart_speech.plugin`.
"""

__version__ = "0.1.0"
