"""The base stage: the tiny local Qwen3.5-family model (``tiny.py``) or a record of a Hub model (``stage.py``)."""
