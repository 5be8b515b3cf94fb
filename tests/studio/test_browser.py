"""hrgan studio in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright's client.

Skips, saying why, where Chromium or the Playwright client is missing.
"""

import contextlib
import io
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urljoin

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("aiohttp", reason="the studio needs aiohttp (pip install hrgan[studio])")

from hrgan.artifacts import save_export

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium (Debian: apt-get install chromium)")
sync_api = pytest.importorskip("playwright.sync_api", reason="no Playwright client (pip install playwright; no browser download)")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_studio(export: dict, folder):
    """``hrgan studio`` as a user starts it, on ``export``; its address."""
    save_export(folder / "export.pt", export)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "hrgan.cli", "studio", "--checkpoint", str(folder / "export.pt"),
                                "--port", str(port), "--device", "cpu"], stdout=subprocess.DEVNULL,
                               stderr=open(folder / "studio.log", "w"))  # noqa: SIM115 (closed with the process)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "api/info", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("the studio did not start: " + (folder / "studio.log").read_text()[-2000:])
    try:
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def studio(demo_sized_synth, tmp_path_factory):
    """The studio on a demo-sized model with styles."""
    with running_studio(demo_sized_synth.export, tmp_path_factory.mktemp("studio")) as url:
        yield url


@contextlib.contextmanager
def chromium_page(url):
    """A headless Chromium page at ``url`` with the map drawn, and the page's errors (asserted empty after)."""
    with sync_api.sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        except sync_api.Error as error:  # e.g. a Chromium this Playwright client cannot drive
            pytest.skip(f"Chromium at {CHROMIUM} does not start under Playwright: {str(error).splitlines()[0]}")
        page = browser.new_page(viewport={"width": 1400, "height": 700})
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url)
        page.wait_for_function("document.getElementById('paint').dataset.ready", timeout=30000)
        yield page
        assert not errors, errors
        browser.close()


def download(page, link: str) -> np.ndarray:
    response = page.request.get(urljoin(page.url, page.locator(f"#{link}").get_attribute("href")))
    assert response.ok
    return np.array(Image.open(io.BytesIO(response.body())))


def photo_settled(page, stamp: str) -> None:
    page.wait_for_function(f"document.getElementById('dl_photo').href !== {stamp!r}", timeout=20000)
    page.wait_for_function("document.getElementById('photo').complete", timeout=20000)


def test_paint_undo_and_restyle_in_chromium(studio):
    with chromium_page(studio) as page:
        label_before, photo_before = download(page, "dl_label"), download(page, "dl_photo")

        page.click("text=5 car")  # class 5, a stroke across the middle of the canvas (256x128, drawn at 512x256)
        box = page.locator("#paint").bounding_box()
        stamp = page.locator("#dl_photo").get_attribute("href")
        page.mouse.move(box["x"] + 100, box["y"] + 160)
        page.mouse.down()
        for step in range(1, 11):
            page.mouse.move(box["x"] + 100 + 40 * step, box["y"] + 160)
        page.mouse.up()
        photo_settled(page, stamp)
        label_after, photo_after = download(page, "dl_label"), download(page, "dl_photo")
        changed = label_after != label_before
        assert changed.sum() > 50 and set(np.unique(label_after[changed])) == {5}  # exactly class 5, nothing else new
        assert np.any(photo_after != photo_before, axis=2)[changed].any()
        page.wait_for_function("/photo in \\d+ ms \\(the model: \\d+ ms\\)/.test(document.getElementById('status').textContent)")

        stamp = page.locator("#dl_photo").get_attribute("href")
        page.click("#undo")
        photo_settled(page, stamp)
        assert np.array_equal(download(page, "dl_label"), label_before)

        page.check("input[value=object]")  # a new object, then select it and give it another cluster
        stamp = page.locator("#dl_photo").get_attribute("href")
        page.mouse.click(box["x"] + 300, box["y"] + 150)
        photo_settled(page, stamp)
        page.check("input[value=select]")
        page.mouse.click(box["x"] + 300, box["y"] + 150)
        page.wait_for_function("document.getElementById('selected').textContent.startsWith('object')")
        instance, before = download(page, "dl_instance"), download(page, "dl_photo")
        selected = int(page.locator("#selected").text_content().split()[1])
        cluster = int(page.locator("#selected").text_content().rsplit(" ", 1)[1])
        page.fill("#cluster", str((cluster + 1) % 4))
        stamp = page.locator("#dl_photo").get_attribute("href")
        page.click("#set_cluster")
        photo_settled(page, stamp)
        restyled = np.any(download(page, "dl_photo") != before, axis=2)
        assert restyled.any() and not restyled[instance != selected].any()


def test_a_vae_models_random_style_and_reference_photo_in_chromium(vae_synth, tmp_path):
    photo = tmp_path / "reference.png"
    Image.fromarray(np.broadcast_to(np.linspace(0, 255, 64, dtype=np.uint8)[None, :, None], (32, 64, 3)).copy()).save(photo)
    with running_studio(vae_synth.export, tmp_path) as url, chromium_page(url) as page:
        assert page.locator("#z_box").is_visible() and page.locator("#photo_box").is_visible()
        assert not page.locator("#cluster_box").is_visible()  # no instance styles on a VAE model
        first = download(page, "dl_photo")
        stamp = page.locator("#dl_photo").get_attribute("href")
        page.click("#random_z")
        photo_settled(page, stamp)
        second = download(page, "dl_photo")
        assert not np.array_equal(first, second)
        stamp = page.locator("#dl_photo").get_attribute("href")
        page.set_input_files("#style_photo", str(photo))
        photo_settled(page, stamp)
        assert not np.array_equal(download(page, "dl_photo"), second)
        stamp = page.locator("#dl_photo").get_attribute("href")
        page.click("#undo")
        photo_settled(page, stamp)
        assert np.array_equal(download(page, "dl_photo"), second)
