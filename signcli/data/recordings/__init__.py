"""Single recordings in the formats `signcli import` reads, one reader module per format.

    base.py                what a reader gives (streams), shared helpers
    pose_file.py           a pose-format `.pose` file
    openpose.py            a folder of OpenPose per-frame JSON (one video)
    asl_signs.py           a long-format asl-signs parquet (one sequence)
    asl_fingerspelling.py  a wide-format asl-fingerspelling parquet (many sequences)
    mp_frames.py           MediaPipe `.npy`: a folder of per-frame vectors, or one [T, W] file
    read.py                any of them from a path, laid out as a trained model's columns

`importers/` walks source trees and writes datasets with these readers; `predict` reads
the recordings it is given with `read.py`. This `__init__` imports nothing: importing a
reader module must stay light (pyarrow and pose-format load inside the functions).
"""
