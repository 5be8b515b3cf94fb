"""The studio's web app (aiohttp): one static page and a JSON API over ``StudioSession``s, one per browser tab.

    GET  /                      the editor page
    GET  /api/info              classes (names, colours), maps to open, the canvas size, what styles the model takes
    POST /api/session           {"map": NAME} or {"fill": CLASS}: a new tab's canvas -> {"id", "width", "height"}
    POST /api/session/ID/edit   {"op": brush|fill|erase|delete|undo|redo|restyle|z, ...} -> the state and render time
    POST /api/session/ID/style-photo   a photo (image/*) whose style a VAE model takes for the whole image
    GET  /api/session/ID/object?x=&y=   the object under a pixel
    GET  /api/session/ID/label.png | instance.png | photo.png | labels_rgb.png
    GET  /api/session/ID/selection.png?object=N     the object's outline over a transparent map (the page's highlight)

Edits carry map coordinates, never pixels: the server paints them, so the label map holds exactly the classes
painted. The label map downloads in the files' numbering (what ``hrgan infer`` reads back as the same classes).
Requests are limited in size (``MAX_REQUEST_BYTES``, ``MAX_PHOTO_BYTES``, ``MAX_POINTS``); sessions in number (the
one used longest ago goes first); names of maps come from the listing and are never read as paths. Requests
for a host name other than this machine's are refused (``answers``: a page of another site whose name was made
to resolve to this machine, DNS rebinding), and posts from another origin.
"""

from __future__ import annotations

import asyncio
import io
import json
import secrets
from collections import OrderedDict
from importlib import resources

import numpy as np
import torch
from aiohttp import web
from PIL import Image

from hrgan.conditioning import instance_edges
from hrgan.data.images import decode_image
from hrgan.data.labels import LabelConvention
from hrgan.inference.synthesizer import Synthesizer
from hrgan.pixels import photo_tensor
from hrgan.studio import fields
from hrgan.studio.canvas import OBJECT_ID_STEP, Canvas, disc_stroke, stroke_cost
from hrgan.studio.library import MapLibrary
from hrgan.studio.security import host_names, local_only
from hrgan.studio.session import StudioSession
from hrgan.visualize import colorize_labels

MAX_REQUEST_BYTES = 1 << 20  # an edit's JSON
MAX_PHOTO_BYTES = 16 << 20  # a reference photo's file
MAX_POINTS = 10_000
MAX_STROKE_PIXELS = 50_000_000  # canvas.stroke_cost: about a second of painting on 2 CPU cores
MAX_RADIUS = 256
MAX_SESSIONS = 16


def file_palette(colors: np.ndarray, convention: LabelConvention) -> np.ndarray:
    """[256, 3] colours by file value: each class's colour at its value in the files (black elsewhere)."""
    full = np.zeros((256, 3), dtype=np.uint8)
    values = np.arange(len(colors)) + convention.offset
    keep = values < 256
    full[values[keep]] = colors[keep]
    return full


def label_png(values: np.ndarray, palette: np.ndarray) -> Image.Image:
    """An index PNG of values < 256 with a palette of 256 colours (all of them, so Pillow keeps 8 bits per pixel
    whatever the number of classes), else a 16-bit greyscale PNG."""
    if values.max() >= 256:
        return Image.fromarray(values.astype(np.uint16))
    image = Image.fromarray(values.astype(np.uint8))
    image.putpalette(palette.reshape(-1).tolist())
    return image


def outline(mask: np.ndarray) -> np.ndarray:
    """RGBA [H, W, 4]: the pixels of ``mask`` that touch its outside, opaque white on black; the rest transparent."""
    inner = mask.copy()
    inner[1:] &= mask[:-1]
    inner[:-1] &= mask[1:]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    edge = mask & ~inner
    rgba = np.zeros((*mask.shape, 4), dtype=np.uint8)
    rgba[edge] = (255, 255, 255, 255)
    rgba[inner] = (0, 0, 0, 90)  # the inside dimmed a little
    return rgba


def png(image: np.ndarray | Image.Image) -> web.Response:
    buffer = io.BytesIO()
    (image if isinstance(image, Image.Image) else Image.fromarray(image)).save(buffer, format="PNG")
    return web.Response(body=buffer.getvalue(), content_type="image/png", headers={"Cache-Control": "no-store"})


class Studio:
    """The sessions of one model and one map library, and the handlers that serve them."""

    def __init__(self, synth: Synthesizer, library: MapLibrary, *, size: tuple[int, int], seed: int = 0) -> None:
        self.synth, self.library, self.size, self.seed = synth, library, size, seed
        self.sessions: OrderedDict[str, StudioSession] = OrderedDict()
        self.palette = np.array(synth.palette, dtype=np.uint8)
        self.file_palette = file_palette(self.palette, library.convention)
        self.lock = asyncio.Lock()  # one render at a time: the model is shared

    def unlabeled(self) -> int | None:
        return self.synth.ignore_index

    def session(self, request: web.Request) -> StudioSession:
        session_id = request.match_info["id"]
        session = self.sessions.get(session_id)
        if session is None:
            raise web.HTTPNotFound(text=f"no such session (the studio keeps the {MAX_SESSIONS} used last): reload the page")
        self.sessions.move_to_end(session_id)
        return session

    @staticmethod
    async def body(request: web.Request) -> dict:
        """The request's JSON object; 400 for anything else (and a type other than application/json, which a
        page of another site cannot send without asking first)."""
        if request.content_type != "application/json":
            raise web.HTTPUnsupportedMediaType(text="send application/json")
        raw = await request.read()
        if len(raw) > MAX_REQUEST_BYTES:
            raise web.HTTPRequestEntityTooLarge(MAX_REQUEST_BYTES, len(raw), text=f"an edit is at most {MAX_REQUEST_BYTES} bytes")
        try:
            body = json.loads(raw, parse_constant=_refuse_constant)
        except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
            raise web.HTTPBadRequest(text="the body is not JSON") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="the body must be a JSON object")
        return body

    def state(self, session: StudioSession, seconds: float | None) -> dict:
        return {"can_undo": session.canvas.can_undo, "can_redo": session.canvas.can_redo, "seconds": seconds}

    async def index(self, request: web.Request) -> web.Response:
        page = resources.files("hrgan.studio").joinpath("static/index.html").read_text()
        return web.Response(text=page, content_type="text/html")

    async def info(self, request: web.Request) -> web.Response:
        classes = self.synth.export["classes"]
        return web.json_response({
            "names": classes["names"], "colors": classes["colors"], "maps": self.library.names(),
            "width": self.size[0], "height": self.size[1], "unlabeled": self.unlabeled(),
            "styles": "objects" in self.synth.family.style.choices,
            "clusters": [int(c) for c in self.synth.styles.counts] if self.synth.styles is not None else [],
            "z_dim": self.synth.z_dim, "style_photo": {"z", "reference"} <= set(self.synth.family.style.choices),
            "max_stroke_pixels": MAX_STROKE_PIXELS, "max_points": MAX_POINTS,
        })

    async def create(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        try:
            if body.get("map") is not None:
                label, instance = self.library.open(str(body["map"]))
                canvas = Canvas(label, instance, label_nc=self.synth.label_nc, unlabeled=self.unlabeled())
            else:
                fill = fields.integer(body, "fill", 0)
                if not 0 <= fill < self.synth.label_nc:
                    raise ValueError(f"class {fill} is not one of the model's 0..{self.synth.label_nc - 1}")
                canvas = Canvas.blank(*self.size, fill=fill, label_nc=self.synth.label_nc, unlabeled=self.unlabeled())
        except KeyError:
            raise web.HTTPNotFound(text=f"no map called {body.get('map')!r}") from None
        except (ValueError, TypeError, OverflowError, OSError) as error:
            raise web.HTTPBadRequest(text=str(error)) from None
        session = StudioSession(self.synth, canvas, seed=self.seed)
        try:
            async with self.lock:
                render = await asyncio.to_thread(session.render)
        except ValueError as error:  # e.g. label values the model cannot take
            raise web.HTTPBadRequest(text=str(error)) from None
        session_id = secrets.token_hex(8)
        self.sessions[session_id] = session
        while len(self.sessions) > MAX_SESSIONS:
            self.sessions.popitem(last=False)
        height, width = canvas.label.shape
        return web.json_response({"id": session_id, "width": width, "height": height, **self.state(session, render.seconds)})

    @staticmethod
    def _stroke(canvas: Canvas, body: dict) -> tuple[list[tuple[float, float]], float]:
        """A stroke's points and radius, within what paints in about a second."""
        radius = fields.number(body, "radius", 4)
        if not 0 < radius <= MAX_RADIUS:
            raise ValueError(f"'radius' must be in (0, {MAX_RADIUS}], got {radius:g}")
        points = fields.points(body, MAX_POINTS)
        if stroke_cost(*canvas.label.shape, points, radius) > MAX_STROKE_PIXELS:
            raise ValueError(f"a stroke may cover at most {MAX_STROKE_PIXELS} pixels of segment windows "
                             "(segment box grown by the radius): send it in parts")
        return points, radius

    def _edit(self, session: StudioSession, body: dict) -> float:
        """Make one edit of the request and render; the render's seconds."""
        canvas, op = session.canvas, body.get("op")
        if op in ("brush", "erase"):
            points, radius = self._stroke(canvas, body)
            if op == "brush":
                cls, new_object = fields.integer(body, "class"), fields.boolean(body, "new_object", False)
                return session.apply(lambda c: c.brush(points, radius, cls, new_object=new_object)).seconds
            return session.apply(lambda c: c.erase(disc_stroke(*c.label.shape, points, radius))).seconds
        if op == "fill":
            x, y = self._pixel(canvas, fields.integer(body, "x"), fields.integer(body, "y"))
            cls = fields.integer(body, "class")
            return session.apply(lambda c: c.fill(x, y, cls)).seconds
        if op == "delete":
            instance = fields.integer(body, "object")
            return session.apply(lambda c: c.delete_object(instance)).seconds
        if op == "undo":
            return session.undo().seconds
        if op == "redo":
            return session.redo().seconds
        if op == "restyle":
            cluster = None if body.get("cluster") is None else fields.integer(body, "cluster")
            if cluster is not None and cluster < 0:
                raise ValueError(f"'cluster' must be >= 0, got {cluster}")
            return session.restyle(fields.integer(body, "object"), cluster).seconds
        if op == "z":
            seed = fields.integer(body, "seed", 0)
            return session.set_z(session.random_z(seed)).seconds
        raise ValueError(f"unknown op {op!r}")

    @staticmethod
    def _pixel(canvas: Canvas, x: int, y: int) -> tuple[int, int]:
        height, width = canvas.label.shape
        if not (0 <= x < width and 0 <= y < height):
            raise ValueError(f"({x}, {y}) is outside the {width}x{height} map")
        return x, y

    async def edit(self, request: web.Request) -> web.Response:
        session = self.session(request)
        body = await self.body(request)
        try:
            async with self.lock:  # edits and renders run off the event loop, one at a time: the model is shared
                seconds = await asyncio.to_thread(self._edit, session, body)
        except (ValueError, OverflowError) as error:
            raise web.HTTPBadRequest(text=str(error)) from None
        return web.json_response(self.state(session, seconds))

    async def style_photo(self, request: web.Request) -> web.Response:
        """A reference photo (the file's bytes, image/*): the VAE's z for the whole image becomes its style."""
        session = self.session(request)
        if not request.content_type.startswith("image/") and request.content_type != "application/octet-stream":
            raise web.HTTPUnsupportedMediaType(text="send the photo's file (image/*)")
        raw = await request.read()

        def encode() -> float:
            image = decode_image(raw, "the reference photo")
            height, width = session.canvas.label.shape
            return session.set_z_from_photo(photo_tensor(image, width, height)).seconds

        try:
            async with self.lock:
                seconds = await asyncio.to_thread(encode)
        except ValueError as error:  # BadSampleError too: an unreadable or too large image
            raise web.HTTPBadRequest(text=str(error)) from None
        return web.json_response(self.state(session, seconds))

    async def object(self, request: web.Request) -> web.Response:
        session = self.session(request)
        try:
            x, y = self._pixel(session.canvas, fields.query_integer(request.query, "x"), fields.query_integer(request.query, "y"))
        except ValueError as error:
            raise web.HTTPBadRequest(text=str(error)) from None
        async with self.lock:
            instance = session.canvas.object_at(x, y)
            cls = int(session.canvas.label[y, x])
        cluster = session.cluster_of(instance, cls) if instance is not None and session.has_styles else None
        return web.json_response({"object": instance, "class": cls, "cluster": cluster})

    async def selection(self, request: web.Request) -> web.Response:
        session = self.session(request)
        try:
            instance = fields.query_integer(request.query, "object")
        except ValueError as error:
            raise web.HTTPBadRequest(text=str(error)) from None
        async with self.lock:
            return await asyncio.to_thread(lambda: png(outline(session.canvas.instance == instance)))

    async def image(self, request: web.Request) -> web.Response:
        session, name = self.session(request), request.match_info["name"]
        async with self.lock:  # not halfway through an edit (strokes paint in place); PNG encoding off the event loop
            return await asyncio.to_thread(self._image, session, name)

    def _image(self, session: StudioSession, name: str) -> web.Response:
        label, instance, photo = session.canvas.label, session.canvas.instance, session.photo
        if name == "label":
            return png(label_png(self.library.convention.to_file(label), self.file_palette))
        if name == "instance":
            if instance.max() > 65535:
                raise web.HTTPBadRequest(text="instance ids above 65535 (classes past 65 with objects) do not fit a 16-bit PNG")
            return png(instance.astype(np.uint16))
        if name == "labels_rgb":  # what the page shows: the classes' colours, objects' edges darker (touching cars apart)
            view = colorize_labels(label, self.palette)
            edges = instance_edges(torch.from_numpy(instance).unsqueeze(0))[0, 0].numpy().astype(bool)
            edges &= instance >= OBJECT_ID_STEP
            view[edges] = view[edges] // 2
            return png(view)
        if name == "photo":
            return png(photo)
        raise web.HTTPNotFound()


async def no_content(request: web.Request) -> web.Response:
    return web.Response(status=204)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number")


def make_app(studio: Studio, *, host: str = "127.0.0.1", allowed_hosts: tuple[str, ...] = ()) -> web.Application:
    """The aiohttp application of a ``Studio`` listening on ``host`` (see ``host_names`` for ``allowed_hosts``)."""
    app = web.Application(client_max_size=MAX_PHOTO_BYTES, middlewares=[local_only(host_names(host, allowed_hosts))])
    app.add_routes([
        web.get("/", studio.index),
        web.get("/favicon.ico", no_content),
        web.get("/api/info", studio.info),
        web.post("/api/session", studio.create),
        web.post("/api/session/{id}/edit", studio.edit),
        web.post("/api/session/{id}/style-photo", studio.style_photo),
        web.get("/api/session/{id}/object", studio.object),
        web.get("/api/session/{id}/selection.png", studio.selection),
        web.get("/api/session/{id}/{name}.png", studio.image),
    ])
    return app
