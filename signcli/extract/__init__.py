"""`signcli extract`: sign-language videos to a keypoint dataset, offline, with MediaPipe Holistic.

    video.py      decode a video with OpenCV, resampled to --fps; why a file cannot be read
    holistic.py   frames -> {stream: [T, L, 3]} with MediaPipe Holistic (`extract_video`,
                  the function `predict` calls on a video)
    pose_file.py  the same keypoints as a pose-format `.pose` file (--also-pose)
    sources.py    SRC's videos and their labels, as `importers.base.SourceItem`s
    run.py        the command: plan, extract in worker processes, shards, merge; the dataset
                  itself is written by `importers/run.py`'s writer, as `import` writes it

Nothing here imports mediapipe or OpenCV at module level: they come with the optional extra
(`pip install "signcli[extract]"`) and are imported by the functions that need them.
"""

INSTALL_HINT = 'pip install "signcli[extract]"  (mediapipe 0.10.14, which brings OpenCV)'
