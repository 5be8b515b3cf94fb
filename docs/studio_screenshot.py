"""The README's screenshot of hrgan studio: a few edits on the demo model, as a person would make them.

    make demo
    hrgan studio --checkpoint runs/demo/export.pt --labels runs/demo/heldout/test_label \
        --instances runs/demo/heldout/test_inst &
    python docs/studio_screenshot.py --url http://127.0.0.1:8765/ --out docs/studio.png

Needs Playwright's client and Debian's Chromium (``make browser`` installs both where it can).
"""

from __future__ import annotations

import argparse
import shutil

from playwright.sync_api import sync_playwright


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8765/")
    parser.add_argument("--out", default="docs/studio.png")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1500, "height": 500})
        page.goto(args.url)
        page.wait_for_function("document.getElementById('paint').dataset.ready", timeout=30000)
        box = page.locator("#paint").bounding_box()

        def drag(points, then_wait=True):
            stamp = page.locator("#dl_photo").get_attribute("href")
            page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
            page.mouse.down()
            for x, y in points[1:]:
                page.mouse.move(box["x"] + x, box["y"] + y)
            page.mouse.up()
            page.wait_for_function(f"document.getElementById('dl_photo').href !== {stamp!r}", timeout=20000)
            page.wait_for_function("document.getElementById('photo').complete")

        page.click("text=4 vegetation")  # a hedge along the sidewalk
        drag([(30 + 10 * i, 250 - 3 * i) for i in range(20)])
        page.click("text=5 car")  # a new car on the road
        page.check("input[value=object]")
        drag([(330 + 8 * i, 232) for i in range(10)])
        page.check("input[value=select]")  # and select it
        page.mouse.click(box["x"] + 360, box["y"] + 232)
        page.wait_for_function("document.getElementById('selected').textContent.startsWith('object')")
        page.wait_for_timeout(300)
        page.screenshot(path=args.out, clip={"x": 0, "y": 0, "width": 1490, "height": 345})
        browser.close()


if __name__ == "__main__":
    main()
