"""hrgan: distributed high-resolution conditional image synthesis (pix2pixHD family)."""

__version__ = "0.1.0"
