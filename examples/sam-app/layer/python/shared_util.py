"""Shared by both functions through the SharedLayer (mounted at /opt/python)."""
import os

LAYER_VERSION_NOTE = "shared_util 1.0"


def stage():
    return os.environ.get("STAGE", "unknown")


def envelope(body):
    return {"stage": stage(), "layer": LAYER_VERSION_NOTE, "body": body}
