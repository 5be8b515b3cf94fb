"""hrgan studio in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright's client.

Skips, saying why, where Chromium or the Playwright client is missing.
"""

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


@pytest.fixture(scope="module")
def studio(demo_sized_synth, tmp_path_factory):
    """``hrgan studio`` as a user starts it, on a demo-sized model with styles; its address."""
    folder = tmp_path_factory.mktemp("studio")
    save_export(folder / "export.pt", demo_sized_synth.export)
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
    yield url
    process.terminate()
    process.wait(10)


def download(page, link: str) -> np.ndarray:
    response = page.request.get(urljoin(page.url, page.locator(f"#{link}").get_attribute("href")))
    assert response.ok
    return np.array(Image.open(io.BytesIO(response.body())))


def photo_settled(page, stamp: str) -> None:
    page.wait_for_function(f"document.getElementById('dl_photo').href !== {stamp!r}", timeout=20000)
    page.wait_for_function("document.getElementById('photo').complete", timeout=20000)


def test_paint_undo_and_restyle_in_chromium(studio):
    with sync_api.sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        except sync_api.Error as error:  # e.g. a Chromium this Playwright client cannot drive
            pytest.skip(f"Chromium at {CHROMIUM} does not start under Playwright: {str(error).splitlines()[0]}")
        page = browser.new_page(viewport={"width": 1400, "height": 700})
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(studio)
        page.wait_for_function("document.getElementById('paint').dataset.ready", timeout=30000)
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
        assert not errors, errors
        browser.close()
