"""Exports of trained models for serving: ONNX (onnx.py)."""
