"""Edit-to-photo time of `hrgan studio`: what a person waits for between releasing the mouse and seeing the photo.

    make demo && python benchmarks/studio_latency.py                      # the demo model on its held-out maps
    python benchmarks/studio_latency.py --checkpoint EXPORT --labels DIR --device cuda
    python benchmarks/studio_latency.py --browser                         # also the page's own figure, in Chromium

Starts `hrgan studio` in its own process, as a user does, and drives its HTTP API the way the page does: each
edit is a brush stroke (POST .../edit, the server paints and renders) followed by the download of the new photo
(GET .../photo.png), timed together from outside; the server's own render time (the figure the page shows) is
reported beside it. Strokes alternate classes at seeded random places, on an opened map and on a blank canvas at
the model's training size. Two warm-up edits, then the median (min-max) of --edits. Prints one JSON line per canvas.
--browser also drives the page in headless Chromium (Playwright's client, Debian's chromium): strokes drawn with
the mouse on the first map, and the time the page itself shows (mouse up to the photo decoded on screen).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def request(url: str, body: dict | None = None) -> bytes:
    data = None if body is None else json.dumps(body).encode()
    headers = {} if body is None else {"Content-Type": "application/json"}
    with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=120) as response:
        return response.read()


def start_studio(args: argparse.Namespace) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "hrgan.cli", "studio", "--checkpoint", str(args.checkpoint), "--port", str(port),
               "--device", args.device]
    for flag in ("labels", "instances"):
        if getattr(args, flag):
            command += [f"--{flag}", str(getattr(args, flag))]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    process.stdout.readline()  # "hrgan studio: http://...": listening
    return process, f"http://127.0.0.1:{port}"


def time_edits(url: str, create: dict, edits: int, seed: int) -> dict:
    info = json.loads(request(url + "/api/info"))
    session = json.loads(request(url + "/api/session", create))
    base = f"{url}/api/session/{session['id']}/"
    rng = random.Random(seed)
    classes = [k for k in range(len(info["names"])) if k != create.get("fill")]
    rounds, renders = [], []
    for i in range(edits + 2):
        x, y = rng.uniform(0, session["width"]), rng.uniform(0, session["height"])
        stroke = {"op": "brush", "points": [[x, y], [x + 30, y + 10]], "radius": 6, "class": classes[i % len(classes)]}
        start = time.perf_counter()
        state = json.loads(request(base + "edit", stroke))
        request(base + "photo.png")
        if i >= 2:
            rounds.append(time.perf_counter() - start)
            renders.append(state["seconds"])
    return {"size": f"{session['width']}x{session['height']}", "edits": edits,
            "edit_to_photo_s": round(statistics.median(rounds), 4), "min_max_s": [round(min(rounds), 4), round(max(rounds), 4)],
            "server_render_s": round(statistics.median(renders), 4)}


def time_page(url: str, edits: int, chromium: str) -> dict:
    """The page's own "photo in N ms (the model: M ms)" over ``edits`` mouse strokes, after 2 warm-ups."""
    from playwright.sync_api import sync_playwright

    totals, models = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1500, "height": 600})
        page.goto(url + "/")
        page.wait_for_function("document.getElementById('paint').dataset.ready", timeout=60000)
        box = page.locator("#paint").bounding_box()
        swatches = page.locator(".swatch")
        for i in range(edits + 2):
            swatches.nth(1 + i % (swatches.count() - 1)).click()
            page.evaluate("document.getElementById('status').textContent = ''")
            x, y = box["x"] + 20 + (i * 37) % (box["width"] - 80), box["y"] + 20 + (i * 53) % (box["height"] - 40)
            page.mouse.move(x, y)
            page.mouse.down()
            page.mouse.move(x + 40, y + 10)
            page.mouse.up()
            page.wait_for_function("/photo in/.test(document.getElementById('status').textContent)", timeout=60000)
            total, model = (int(n) for n in re.findall(r"(\d+) ms", page.locator("#status").text_content()))
            if i >= 2:
                totals.append(total / 1000)
                models.append(model / 1000)
        browser.close()
    return {"edits": edits, "edit_to_photo_s": round(statistics.median(totals), 4),
            "min_max_s": [round(min(totals), 4), round(max(totals), 4)], "server_render_s": round(statistics.median(models), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "runs/demo/export.pt")
    parser.add_argument("--labels", type=Path, default=ROOT / "runs/demo/heldout/test_label")
    parser.add_argument("--instances", type=Path, default=ROOT / "runs/demo/heldout/test_inst")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--browser", action="store_true", help="also time the page in headless Chromium")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()
    if not args.checkpoint.is_file():
        raise SystemExit(f"{args.checkpoint}: no such export (run make demo first, or pass --checkpoint)")
    process, url = start_studio(args)
    try:
        maps = json.loads(request(url + "/api/info"))["maps"]
        canvases = ([("map " + maps[0], {"map": maps[0]})] if maps else []) + [("blank canvas", {"fill": 0})]
        for what, create in canvases:
            row = time_edits(url, create, args.edits, args.seed)
            print(json.dumps({"canvas": what, **row, "device": args.device, "cpus": os.cpu_count(),
                              "machine": platform.processor() or platform.machine()}), flush=True)
        if args.browser:
            row = time_page(url, args.edits, args.chromium)
            print(json.dumps({"canvas": "the page, in Chromium: " + canvases[0][0], **row, "device": args.device,
                              "cpus": os.cpu_count()}), flush=True)
    finally:
        process.terminate()
        process.wait(10)


if __name__ == "__main__":
    main()
