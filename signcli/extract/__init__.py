"""`signcli extract`: sign-language videos to a keypoint dataset, offline, with MediaPipe Holistic.

    pose_file.py  the same keypoints as a pose-format `.pose` file (--also-pose)
    sources.py    SRC's videos and their labels, as `importers.base.SourceItem`s
    run.py        the command: plan, extract in worker processes, shards, merge; the dataset
                  itself is written by `importers/run.py`'s writer, as `import` writes it

Reading a video is a data-floor reader that `predict` uses too: `data/video.py` decodes it
(OpenCV, --fps), `data/holistic.py` runs MediaPipe Holistic on it (`extract_video`). Nothing
imports mediapipe or OpenCV at module level: they come with the optional extra
(`pip install "signcli[extract]"`) and are imported by the functions that need them.
"""
