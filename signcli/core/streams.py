"""The stream names of the multi-stream layout (docs/architecture.md, "Dataset layouts"):
one folder per stream, and the body parts a column layout may cut a single stream into."""

from typing import Literal

STREAM_NAMES = ("face", "hand_l", "hand_r", "pose")  # streams of the multi-stream layout
StreamName = Literal["face", "hand_l", "hand_r", "pose"]
