"""A canvas and the model that paints it: each object's style, a VAE's z, and the photo with its render time.

Styles stay put between edits: an object without a chosen cluster draws one from (seed, its instance id),
so painting elsewhere does not re-roll it. A style change regenerates the photo and keeps it only inside
that object (the rest of the photo stays as it was); an edit of the maps regenerates the whole photo.
Style changes (an object's cluster, a VAE's z) share the canvas's undo history with the edits of the maps.
Undo and redo bring photos back as they were shown: a full render is made again (renders are deterministic),
and a photo a restyle composited, which no render gives, is kept with the step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from hrgan.inference.synthesizer import Synthesizer
from hrgan.models.family import Style, StyleChoice
from hrgan.models.style_bank import style_rng
from hrgan.studio.canvas import Canvas
from hrgan.visualize import image_to_uint8


class StyleChange:
    """An undo entry: one object's chosen cluster and draw count as they were before a restyle."""

    nbytes, photo = 64, None

    def __init__(self, session: StudioSession, instance: int) -> None:
        self.session, self.instance = session, instance
        self.saved = self._live()

    def _live(self) -> tuple[int | None, int | None]:
        return self.session.clusters.get(self.instance), self.session.draws.get(self.instance)

    def swap(self) -> None:
        live = self._live()
        for table, value in zip((self.session.clusters, self.session.draws), self.saved, strict=True):
            if value is None:
                table.pop(self.instance, None)
            else:
                table[self.instance] = value
        self.saved = live


class StyleZChange:
    """An undo entry: a VAE model's z as it was before it changed."""

    photo = None

    def __init__(self, session: StudioSession) -> None:
        self.session, self.saved = session, session.z
        self.nbytes = session.z.numel() * 4

    def swap(self) -> None:
        self.session.z, self.saved = self.saved, self.session.z


@dataclass(frozen=True)
class Shown:
    """A photo as it was shown, kept with an undo step; ``composite``: a restyle pasted part of it (no render
    of the maps and styles gives it again)."""

    photo: np.ndarray
    composite: bool

    @property
    def nbytes(self) -> int:
        return self.photo.nbytes


@dataclass(frozen=True)
class Render:
    photo: np.ndarray  # [H, W, 3] uint8
    seconds: float  # from the request to the photo


class StudioSession:
    """One browser tab's state: its canvas, styles and last photo.

    Args:
        synth: the model.
        canvas: the maps being edited.
        seed: where random styles (clusters, z) come from.
    """

    def __init__(self, synth: Synthesizer, canvas: Canvas, *, seed: int = 0) -> None:
        self.synth, self.canvas, self.seed = synth, canvas, seed
        self.clusters: dict[int, int] = {}  # instance id -> the cluster chosen for it
        self.draws: dict[int, int] = {}  # instance id -> how many random draws it has had
        self.z = self.random_z(seed) if self.has_vae else None
        self.photo: np.ndarray | None = None
        self.composite = False  # the photo is partly a restyle's (see Shown)

    # ----------------------------------------------------------------- styles
    @property
    def has_styles(self) -> bool:
        """Whether objects take styles (clusters of instance features)."""
        return "objects" in self.synth.family.style.choices

    @property
    def has_vae(self) -> bool:
        """Whether the whole image takes a VAE's z."""
        return "z" in self.synth.family.style.choices

    def cluster_of(self, instance: int, cls: int, count: int | None = None) -> int | None:
        """The cluster an instance of class ``cls`` (of ``count`` clusters) uses: chosen, else drawn from (seed, id,
        draws); None: no styles."""
        if count is None:
            count = int(self.synth.styles.counts[cls]) if cls >= 0 else 0
        if not count:
            return None
        if instance in self.clusters:
            return min(self.clusters[instance], count - 1)
        return int(style_rng(self.seed, instance, self.draws.get(instance, 0)).integers(count))

    def style_choice(self) -> StyleChoice:
        """The canvas's style: each object's cluster, a VAE's z."""
        return StyleChoice("random", seed=self.seed, objects=self.cluster_of, z=self.z)

    def style(self) -> Style:
        """The canvas's style as the model takes it (instance features [1, F, H, W], a VAE's z)."""
        label = torch.from_numpy(self.canvas.label).unsqueeze(0)
        instance = torch.from_numpy(self.canvas.instance).unsqueeze(0)
        return self.synth.style(self.style_choice(), label, instance, ["canvas"])

    def random_z(self, seed: int) -> torch.Tensor:
        """A VAE's z [1, z_dim] ~ N(0, 1) from ``seed``."""
        if not self.has_vae:
            raise ValueError("this model has no VAE (z_dim 0): its style comes from the map alone")
        return self.synth.family.style.random_z(seed).unsqueeze(0)

    def set_z(self, z: torch.Tensor) -> Render:
        """A VAE model's z for the whole image, and the photo with it (undo takes it back)."""
        if not self.has_vae:
            raise ValueError("this model has no VAE (z_dim 0): its style comes from the map alone")

        def change(canvas: Canvas) -> None:
            canvas.history.push(StyleZChange(self))
            self.z = z

        return self.apply(change)

    def set_z_from_photo(self, photo: torch.Tensor) -> Render:
        """The VAE's z of a reference photo [1, 3, H, W] in [-1, 1] (its posterior mean), and the photo with it."""
        return self.set_z(self.synth.encode_style(photo))

    # ----------------------------------------------------------------- photos
    def _generate(self) -> np.ndarray:
        label = torch.from_numpy(self.canvas.label).unsqueeze(0)
        instance = torch.from_numpy(self.canvas.instance).unsqueeze(0)
        photo = self.synth(label, instance, style=self.style())
        return image_to_uint8(photo[0])

    def render(self) -> Render:
        """The whole photo of the canvas as it is now."""
        start = time.perf_counter()
        self.photo, self.composite = self._generate(), False
        return Render(self.photo, time.perf_counter() - start)

    def apply(self, edit: Callable[[Canvas], object]) -> Render:
        """Make ``edit`` (a change of the canvas, or of a style through the history) and render the photo; undo
        brings back the photo shown before. If the render fails the edit is taken back, and the error raised."""
        history, shown = self.canvas.history, self.photo
        before = history.last
        edit(self.canvas)
        if history.last is before:  # nothing changed (an empty stroke)
            return Render(shown, 0.0) if shown is not None else self.render()
        if shown is not None and self.composite:  # else undo renders it again, bit for bit
            history.attach_photo(Shown(shown, True))
        try:
            return self.render()
        except Exception:
            self._revert()
            raise

    def undo(self) -> Render:
        """Take the last step back, with the photo shown before it (``ValueError``: nothing to undo)."""
        return self._step(self.canvas.history.undo)

    def redo(self) -> Render:
        """Make the last undone step again, with the photo it made (``ValueError``: nothing to redo)."""
        return self._step(self.canvas.history.redo)

    def _revert(self) -> None:
        """Take back the step whose photo failed, as if it had never been made."""
        entry = self.canvas.history.revert()
        if entry.photo is not None:
            self.photo, self.composite = entry.photo.photo, entry.photo.composite

    def _step(self, move: Callable[[], object]) -> Render:
        start = time.perf_counter()
        entry = move()
        if entry.photo is None:
            return self.render()
        kept, entry.photo = entry.photo, Shown(self.photo, self.composite)
        self.photo, self.composite = kept.photo, kept.composite
        return Render(self.photo, time.perf_counter() - start)

    def restyle(self, instance: int, cluster: int | None) -> Render:
        """Give an object cluster ``cluster`` (None: a new random draw); only its pixels of the photo change."""
        if not self.has_styles:
            raise ValueError("this model has no instance styles (hrgan encode-features adds them)")
        if not (self.canvas.instance == instance).any():
            raise ValueError(f"there is no instance {instance} on the canvas")
        if cluster is not None and self.clusters.get(instance) == cluster and self.photo is not None:
            return Render(self.photo, 0.0)  # already so
        start = time.perf_counter()
        if self.photo is None:
            self.render()
        previous = self.photo
        history = self.canvas.history
        history.push(StyleChange(self, instance))  # undo takes a restyle back like an edit of the map
        history.attach_photo(Shown(previous, self.composite))
        if cluster is None:
            self.clusters.pop(instance, None)
            self.draws[instance] = self.draws.get(instance, 0) + 1
        else:
            self.clusters[instance] = cluster
        mask = self.canvas.instance == instance
        try:
            self.photo, self.composite = np.where(mask[..., None], self._generate(), previous), True
        except Exception:
            self._revert()
            raise
        return Render(self.photo, time.perf_counter() - start)
