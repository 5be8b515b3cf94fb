"""Inference: trained generators applied to label maps (``hrgan infer``, styles, export)."""
