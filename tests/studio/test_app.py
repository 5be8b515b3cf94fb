"""The studio's HTTP API, as the page uses it: exact strokes in the downloaded map, undo, styles, safety, tabs."""

import asyncio
import io

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("aiohttp", reason="the studio needs aiohttp (pip install hrgan[studio])")
from aiohttp.test_utils import TestClient, TestServer  # noqa: E402

from hrgan.artifacts import make_export  # noqa: E402
from hrgan.data.classes import load_classes  # noqa: E402
from hrgan.data.labels import LabelConvention  # noqa: E402
from hrgan.inference.synthesizer import Synthesizer  # noqa: E402
from hrgan.models import GlobalGenerator  # noqa: E402
from hrgan.studio import app as app_module  # noqa: E402
from hrgan.studio import library as library_module  # noqa: E402
from hrgan.studio.app import MAX_REQUEST_BYTES, Studio, file_palette, label_png, make_app  # noqa: E402
from hrgan.studio.canvas import disc_stroke  # noqa: E402
from hrgan.studio.library import MapLibrary  # noqa: E402
from tests.studio.conftest import LABEL_NC  # noqa: E402


def run(synth, library, scenario, **listening):
    """Serve a studio on a free local port and run ``scenario(client)`` against it (``listening``: make_app's host
    and allowed_hosts, as if it listened there)."""
    async def main():
        app = make_app(Studio(synth, library, size=(64, 32)), **listening)
        async with TestClient(TestServer(app)) as client:
            return await scenario(client)
    return asyncio.run(main())


async def image(client, path) -> np.ndarray:
    response = await client.get(path)
    assert response.status == 200 and response.content_type == "image/png"
    return np.array(Image.open(io.BytesIO(await response.read())))


def no_maps():
    return MapLibrary(None, None, LabelConvention(LABEL_NC))


def test_a_stroke_lands_exactly_in_the_downloaded_map_and_undo_restores_it(synth):
    async def scenario(client):
        info = await (await client.get("/api/info")).json()
        assert info["names"][:2] and len(info["colors"]) == LABEL_NC and (info["width"], info["height"]) == (64, 32)
        page = await client.get("/")
        text = await page.text()
        assert page.status == 200 and "hrgan studio" in text
        # the page splits strokes by the limits the server serves, not by numbers of its own
        assert info["max_points"] > 0 and "info.max_points" in text and str(info["max_points"]) not in text
        session = await (await client.post("/api/session", json={"fill": 0})).json()
        base = f"/api/session/{session['id']}/"
        before, photo_before = await image(client, base + "label.png"), await image(client, base + "photo.png")
        points = [[10, 16], [50, 16]]
        state = await (await client.post(base + "edit", json={"op": "brush", "points": points, "radius": 3, "class": 5})).json()
        assert state["can_undo"] and state["seconds"] > 0
        after, photo_after = await image(client, base + "label.png"), await image(client, base + "photo.png")
        mask = disc_stroke(32, 64, [tuple(p) for p in points], 3)
        assert set(np.unique(after[mask])) == {5} and np.array_equal(after[~mask], before[~mask])
        assert np.any(photo_after != photo_before, axis=2)[mask].any()
        await client.post(base + "edit", json={"op": "undo"})
        assert np.array_equal(await image(client, base + "label.png"), before)
        assert np.array_equal(await image(client, base + "photo.png"), photo_before)

    run(synth, no_maps(), scenario)


def test_a_style_change_on_an_object_changes_only_its_pixels(synth):
    async def scenario(client):
        session = await (await client.post("/api/session", json={"fill": 0})).json()
        base = f"/api/session/{session['id']}/"
        await client.post(base + "edit", json={"op": "brush", "points": [[20, 16]], "radius": 6, "class": 5, "new_object": True})
        found = await (await client.get(base + "object", params={"x": 20, "y": 16})).json()
        assert found["object"] == 5001 and found["class"] == 5 and found["cluster"] is not None
        instance, before = await image(client, base + "instance.png"), await image(client, base + "photo.png")
        response = await client.post(base + "edit", json={"op": "restyle", "object": 5001, "cluster": (found["cluster"] + 1) % 4})
        assert response.status == 200
        changed = np.any(await image(client, base + "photo.png") != before, axis=2)
        assert changed.any() and not changed[instance != 5001].any()
        highlight = await image(client, base + "selection.png?object=5001")  # the page's outline of the selection
        assert highlight.shape == (32, 64, 4) and np.array_equal(highlight[..., 3] > 0, instance == 5001)
        assert (highlight[instance == 5001][:, 0] == 255).sum() > 10  # a white edge
        assert (await client.get(base + "selection.png")).status == 400
        view = await image(client, base + "labels_rgb.png")  # the page's map: the object's edge drawn darker
        colours = {tuple(c) for c in view[instance == 5001]}
        car = np.array(synth.palette[5])
        assert colours == {tuple(car), tuple(car // 2)} and {tuple(c) for c in view[instance != 5001]} == {tuple(synth.palette[0])}

    run(synth, no_maps(), scenario)


def test_tabs_are_independent_and_bad_requests_are_refused(synth, tmp_path):
    (tmp_path / "labels").mkdir()
    Image.fromarray(np.full((32, 64), 2, dtype=np.uint8)).save(tmp_path / "labels" / "street.png")
    (tmp_path / "secret.png").write_bytes(b"not for the browser")
    library = MapLibrary(tmp_path / "labels", None, LabelConvention(LABEL_NC))

    async def scenario(client):
        info = await (await client.get("/api/info")).json()
        assert info["maps"] == ["street"]
        one = await (await client.post("/api/session", json={"map": "street"})).json()
        two = await (await client.post("/api/session", json={"map": "street"})).json()
        await client.post(f"/api/session/{one['id']}/edit", json={"op": "fill", "x": 0, "y": 0, "class": 4})
        assert set(np.unique(await image(client, f"/api/session/{one['id']}/label.png"))) == {4}
        assert set(np.unique(await image(client, f"/api/session/{two['id']}/label.png"))) == {2}
        for name in ("../secret", str(tmp_path / "secret.png"), "secret"):
            assert (await client.post("/api/session", json={"map": name})).status == 404
        edit = f"/api/session/{one['id']}/edit"
        assert (await client.post(edit, json={"op": "brush", "points": [[1, 1]], "radius": 2, "class": LABEL_NC})).status == 400
        assert (await client.post(edit, json={"op": "fill", "x": 64, "y": 0, "class": 1})).status == 400
        assert (await client.post(edit, json={"op": "erase", "points": [[1, 1]], "radius": 2})).status == 400  # no unlabeled value
        json_type = {"Content-Type": "application/json"}
        assert (await client.post(edit, data=b"x" * (MAX_REQUEST_BYTES + 1), headers=json_type)).status == 413
        assert (await client.post(edit, data=b'{"op": "undo"}', headers={"Content-Type": "text/plain"})).status == 415
        assert (await client.post(edit, data=b"{not json", headers=json_type)).status == 400
        assert (await client.post(edit, data=b"[1, 2]", headers=json_type)).status == 400
        assert (await client.post(edit, data=b'{"op": "fill", "x": Infinity, "y": 0, "class": 1}', headers=json_type)).status == 400
        for body, message in (({"op": "fill", "x": 1, "y": 1}, "missing 'class'"),
                              ({"op": "fill", "x": 1, "y": 1, "class": 2.7}, "'class' must be an integer, got 2.7"),
                              ({"op": "fill", "x": 1, "y": 1, "class": True}, "'class' must be an integer"),
                              ({"op": "fill", "x": 1.9, "y": 1, "class": 1}, "'x' must be an integer"),
                              ({"op": "brush", "points": [[1, 1]], "radius": "3", "class": 1}, "'radius' must be a number"),
                              ({"op": "brush", "points": [["1", 1]], "class": 1}, "'x' must be a number"),
                              ({"op": "brush", "points": [1, 2], "class": 1}, "[x, y] pairs, got 1"),
                              ({"op": "brush", "points": [[1, 1]], "class": 1, "new_object": "true"}, "must be true or false")):
            refused = await client.post(edit, json=body)
            assert refused.status == 400 and message in await refused.text(), (body, await refused.text())
        deep = b"[" * 100_000 + b"]" * 100_000
        assert (await client.post(edit, data=deep, headers=json_type)).status == 400  # not a RecursionError's 500
        odd = await client.get(f"/api/session/{one['id']}/object", params={"x": "1.5", "y": 0})
        assert odd.status == 400 and "?x= must be an integer, got '1.5'" in await odd.text()
        new_sky = {"op": "brush", "points": [[5, 5]], "radius": 2, "class": 0, "new_object": True}
        assert (await client.post(edit, json=new_sky)).status == 400  # class 0 has no object ids
        assert (await client.post("/api/session/nope/edit", json={"op": "undo"})).status == 404

    run(synth, library, scenario)


def test_the_label_png_keeps_every_value_whatever_the_number_of_classes():
    values = np.array([[0, 5, 7, 15, 16, 255]], dtype=np.int64)  # 8 classes and 255 unlabeled: Pillow would pick 4 bits
    buffer = io.BytesIO()
    label_png(values, file_palette(np.zeros((8, 3), dtype=np.uint8), LabelConvention(8))).save(buffer, format="PNG")
    assert np.array_equal(np.array(Image.open(io.BytesIO(buffer.getvalue()))), values)


def test_a_cityscapes_folder_offers_each_frame_once_with_its_label_and_instance_files(tmp_path):
    for suffix, value in (("labelIds", 7), ("instanceIds", 26001), ("color", 0)):
        array = np.full((4, 8), value, dtype=np.uint16 if value > 255 else np.uint8)
        Image.fromarray(array).save(tmp_path / f"aachen_000000_000019_gtFine_{suffix}.png")
    library = MapLibrary(tmp_path, tmp_path, LabelConvention(35))
    assert library.names() == ["aachen_000000_000019"]
    label, instance = library.open("aachen_000000_000019")
    assert set(np.unique(label)) == {7} and set(np.unique(instance)) == {26001}


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def test_restyles_are_undone_like_edits_and_new_objects_never_reuse_an_id(synth):
    async def scenario(client):
        session = await (await client.post("/api/session", json={"fill": 0})).json()
        base = f"/api/session/{session['id']}/"
        brush = {"op": "brush", "points": [[20, 16]], "radius": 6, "class": 5, "new_object": True}
        await client.post(base + "edit", json=brush)
        before = await image(client, base + "photo.png")
        found = await (await client.get(base + "object", params={"x": 20, "y": 16})).json()
        await client.post(base + "edit", json={"op": "restyle", "object": 5001, "cluster": (found["cluster"] + 1) % 4})
        assert not np.array_equal(await image(client, base + "photo.png"), before)
        state = await (await client.post(base + "edit", json={"op": "undo"})).json()
        assert np.array_equal(await image(client, base + "photo.png"), before) and state["can_redo"]
        assert (await (await client.get(base + "object", params={"x": 20, "y": 16})).json())["cluster"] == found["cluster"]
        await client.post(base + "edit", json={"op": "redo"})
        restyled = await (await client.get(base + "object", params={"x": 20, "y": 16})).json()
        assert restyled["cluster"] == (found["cluster"] + 1) % 4
        await client.post(base + "edit", json={"op": "delete", "object": 5001})
        await client.post(base + "edit", json=brush)  # a new object where the deleted one was: a new id, its own style
        assert (await (await client.get(base + "object", params={"x": 20, "y": 16})).json())["object"] == 5002

    run(synth, no_maps(), scenario)


def test_a_vae_model_takes_a_random_z_or_a_reference_photos_style_undoably(vae_synth, synth):
    async def scenario(client):
        info = await (await client.get("/api/info")).json()
        assert info["z_dim"] == 8 and info["style_photo"] and not info["styles"]
        session = await (await client.post("/api/session", json={"fill": 2})).json()
        base = f"/api/session/{session['id']}/"
        first = await image(client, base + "photo.png")
        await client.post(base + "edit", json={"op": "z", "seed": 1})
        second = await image(client, base + "photo.png")
        assert not np.array_equal(first, second)
        gradient = np.broadcast_to(np.linspace(0, 255, 64, dtype=np.uint8)[None, :, None], (32, 64, 3)).copy()
        response = await client.post(base + "style-photo", data=png_bytes(gradient), headers={"Content-Type": "image/png"})
        assert response.status == 200 and (await response.json())["seconds"] > 0
        third = await image(client, base + "photo.png")
        assert not np.array_equal(third, second)
        await client.post(base + "edit", json={"op": "undo"})
        assert np.array_equal(await image(client, base + "photo.png"), second)
        await client.post(base + "edit", json={"op": "undo"})
        assert np.array_equal(await image(client, base + "photo.png"), first)
        broken = await client.post(base + "style-photo", data=b"\x89PNG not really", headers={"Content-Type": "image/png"})
        assert broken.status == 400 and "the reference photo" in await broken.text()
        as_text = await client.post(base + "style-photo", data=png_bytes(gradient), headers={"Content-Type": "text/plain"})
        assert as_text.status == 415

    run(vae_synth, no_maps(), scenario)

    async def no_vae(client):
        session = await (await client.post("/api/session", json={"fill": 2})).json()
        response = await client.post(f"/api/session/{session['id']}/style-photo", data=png_bytes(np.zeros((8, 8, 3), np.uint8)),
                                     headers={"Content-Type": "image/png"})
        assert response.status == 400 and "no VAE" in await response.text()

    run(synth, no_maps(), no_vae)


def test_other_hosts_and_origins_are_refused(synth):
    async def scenario(client):
        assert (await client.get("/api/info")).status == 200
        rebound = await client.get("/api/info", headers={"Host": "attacker.example:8765"})
        assert rebound.status == 403 and "attacker.example" in await rebound.text()
        for host in ("localhost:8765", "[::1]:8765", "127.0.0.2"):
            assert (await client.get("/api/info", headers={"Host": host})).status == 200, host
        assert (await client.get("/api/info", headers={"Host": ""})).status == 400
        for malformed in ("[::1:8765", "[::1:P", "a b"):  # no 500 (an odd address literal is still an address)
            assert (await client.get("/api/info", headers={"Host": malformed})).status < 500, malformed
        for host in ("localhost.", "studio.localhost", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]:8765"):
            assert (await client.get("/api/info", headers={"Host": host})).status == 200, host
        same = f"http://127.0.0.1:{client.port}"
        for origin in ("http://attacker.example", "null", f"http://127.0.0.1:{client.port + 1}", f"https://127.0.0.1:{client.port}"):
            assert (await client.post("/api/session", json={"fill": 0}, headers={"Origin": origin})).status == 403, origin
        assert (await client.post("/api/session", json={"fill": 0}, headers={"Origin": same})).status == 200

    run(synth, no_maps(), scenario)

    async def exposed(client):  # hrgan studio --host 0.0.0.0 --allow-host gpu-box.lan
        for host in ("gpu-box.lan:8765", "192.168.1.20:8765", "[fe80::1]:8765", "localhost"):
            assert (await client.get("/api/info", headers={"Host": host})).status == 200, host
        assert (await client.get("/api/info", headers={"Host": "attacker.example:8765"})).status == 403
        assert (await client.post("/api/session", json={"fill": 0}, headers={"Host": "gpu-box.lan:8765",
                                                                               "Origin": "http://attacker.example"})).status == 403

    run(synth, no_maps(), exposed, host="0.0.0.0", allowed_hosts=("gpu-box.lan",))

    async def aliased(client):  # hrgan studio --allow-host mybox (an /etc/hosts alias of 127.0.0.1)
        assert (await client.get("/api/info", headers={"Host": "mybox:8765"})).status == 200
        assert (await client.get("/api/info", headers={"Host": "other.example:8765"})).status == 403

    run(synth, no_maps(), aliased, host="127.0.0.1", allowed_hosts=("MyBox",))


def test_undo_brings_back_the_photos_as_they_were_shown(synth):
    """Two restyles, then undo twice and redo twice: each photo as it was (a restyle composites, so re-rendering
    would not give the photo that was shown)."""
    async def scenario(client):
        session = await (await client.post("/api/session", json={"fill": 0})).json()
        base = f"/api/session/{session['id']}/"
        for x in (16, 46):
            await client.post(base + "edit", json={"op": "brush", "points": [[x, 16]], "radius": 6, "class": 5, "new_object": True})
        shown = [await image(client, base + "photo.png")]
        for instance, x in ((5001, 16), (5002, 46)):
            found = await (await client.get(base + "object", params={"x": x, "y": 16})).json()
            await client.post(base + "edit", json={"op": "restyle", "object": instance, "cluster": (found["cluster"] + 1) % 4})
            shown.append(await image(client, base + "photo.png"))
        assert not np.array_equal(shown[1], shown[2])
        for expected in (shown[1], shown[0]):
            await client.post(base + "edit", json={"op": "undo"})
            assert np.array_equal(await image(client, base + "photo.png"), expected)
        for expected in (shown[1], shown[2]):
            await client.post(base + "edit", json={"op": "redo"})
            assert np.array_equal(await image(client, base + "photo.png"), expected)

    run(synth, no_maps(), scenario)


def test_erase_writes_the_unlabeled_value(tmp_path):
    torch.manual_seed(0)
    generator = GlobalGenerator(in_channels=LABEL_NC + 1, ngf=4, n_downsample=2, n_blocks=1)
    export = make_export(generator=generator, encoder=None, label_nc=LABEL_NC, ignore_index=255, use_instance_edges=True,
                         feat_num=0, n_active_enhancers=0, classes=load_classes("synthetic", LABEL_NC), resolution=(64, 32))
    synth = Synthesizer(export)

    async def scenario(client):
        info = await (await client.get("/api/info")).json()
        assert info["unlabeled"] == 255
        session = await (await client.post("/api/session", json={"fill": 3})).json()
        base = f"/api/session/{session['id']}/"
        before = await image(client, base + "photo.png")
        response = await client.post(base + "edit", json={"op": "erase", "points": [[20, 16], [40, 16]], "radius": 4})
        assert response.status == 200
        mask = disc_stroke(32, 64, [(20, 16), (40, 16)], 4)
        label = await image(client, base + "label.png")
        assert set(np.unique(label[mask])) == {255} and set(np.unique(label[~mask])) == {3}
        assert np.any(await image(client, base + "photo.png") != before, axis=2)[mask].any()
        again = await (await client.post(base + "edit", json={"op": "erase", "points": [[30, 16]], "radius": 2})).json()
        assert again["seconds"] == 0.0  # already erased: no step, no render

    run(synth, MapLibrary(None, None, synth.file_convention()), scenario)


def test_the_label_map_downloads_in_the_files_numbering(synth, tmp_path):
    """Files numbering class k as k + 1 (ADE20K's): what was opened comes back as it was, edits in that numbering."""
    (tmp_path / "labels").mkdir()
    values = np.array([[3, 1, 2, 8]], dtype=np.uint8).repeat(8, axis=0).repeat(16, axis=1)  # classes 2, 0, 1, 7
    Image.fromarray(values).save(tmp_path / "labels" / "room.png")
    library = MapLibrary(tmp_path / "labels", None, LabelConvention(LABEL_NC, offset=1))

    async def scenario(client):
        session = await (await client.post("/api/session", json={"map": "room"})).json()
        base = f"/api/session/{session['id']}/"
        assert np.array_equal(await image(client, base + "label.png"), values)
        await client.post(base + "edit", json={"op": "fill", "x": 20, "y": 0, "class": 3})  # class 0's region -> class 3
        painted = values.copy()
        painted[values == 1] = 4
        assert np.array_equal(await image(client, base + "label.png"), painted)
        response = await client.get(base + "label.png")
        palette = np.array(Image.open(io.BytesIO(await response.read())).getpalette()[:27]).reshape(9, 3)
        assert np.array_equal(palette[1:], np.array(synth.palette, dtype=np.uint8))  # class k's colour at value k + 1

    run(synth, library, scenario)


def test_a_map_larger_than_the_studio_edits_is_refused_naming_the_file(synth, tmp_path, monkeypatch):
    (tmp_path / "labels").mkdir()
    Image.fromarray(np.zeros((32, 64), dtype=np.uint8)).save(tmp_path / "labels" / "huge.png")
    monkeypatch.setattr(library_module, "MAX_MAP_PIXELS", 1000)
    library = MapLibrary(tmp_path / "labels", None, LabelConvention(LABEL_NC))

    async def scenario(client):
        response = await client.post("/api/session", json={"map": "huge"})
        assert response.status == 400 and "huge.png: 64x32 is larger" in await response.text()

    run(synth, library, scenario)


def test_a_stroke_that_would_paint_for_long_is_refused_whatever_its_number_of_points(synth, monkeypatch):
    """The cost is the pixels its segments' windows cover: 10 corner-to-corner segments of radius 1 cost more than
    1000 short ones."""
    monkeypatch.setattr(app_module, "MAX_STROKE_PIXELS", 10_000)

    async def scenario(client):
        session = await (await client.post("/api/session", json={"fill": 0})).json()
        edit = f"/api/session/{session['id']}/edit"
        zigzag = {"op": "brush", "points": [[0, 0], [63, 31]] * 5, "radius": 1, "class": 2}
        refused = await client.post(edit, json=zigzag)
        assert refused.status == 400 and "send it in parts" in await refused.text()
        short = {"op": "brush", "points": [[10 + i * 0.01, 10] for i in range(1000)], "radius": 1, "class": 2}
        assert (await client.post(edit, json=short)).status == 200

    run(synth, no_maps(), scenario)
