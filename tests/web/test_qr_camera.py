"""The camera path of /pay: a citizen's phone films a shop's dynamic QR code.

Chromium gets a fake camera that plays a Y4M video written here from a real merchant QR code
(`merchants/qr.py` makes the payload, segno the module matrix). The page starts the camera,
decodes the code (BarcodeDetector when the browser has one, else jsQR served by the app), and
the shop code, amount and order id must be filled in; the confirm step must name the shop.

The fake camera is a launch argument, so this module launches its own Chromium through the
session's Playwright (a second Playwright in one worker fails), over a world of its own: the
demo shops and demo allowance programs, with the demo citizen logged in.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import segno
from playwright.sync_api import Browser, Page

from busanchain.accounts.service import account_service_for
from busanchain.chain.node import AnvilSupervisor
from busanchain.deployment.service import DeploymentService
from busanchain.domain.roles import Role
from busanchain.merchants.demo import load_demo_merchants
from busanchain.merchants.qr import dynamic_payload, static_payload
from busanchain.merchants.service import merchant_service_for
from busanchain.outbox.service import OutboxService
from busanchain.platform.operator import operator_signer
from busanchain.programs.demo import load_demo_programs
from busanchain.web.app import create_app
from tests.accounts.conftest import make_user
from tests.conftest import module_context
from tests.web.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE,
    PageVisit,
    new_browser_context,
    serve,
)
from tests.web.test_allowance_flow import checked, log_in, open_page

pytestmark = pytest.mark.browser

AMOUNT = 12_000
ORDER = "ORDER-17"
SHOP_NAME = "해운대 시장 마트"  # merchant1's demo shop
WIDTH, HEIGHT = 640, 480
BLACK, WHITE, NEUTRAL = 16, 235, 128  # BT.601 video levels; chroma 128 is grey
QUIET_ZONE = 4  # modules of white around the code, as ISO/IEC 18004 asks


def qr_frame(payload: str, width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """One I420 frame: the QR code black on white, with its quiet zone, scaled up, centred."""
    rows = [list(r) for r in segno.make(payload, error="m").matrix_iter(border=QUIET_ZONE)]
    scale = min(width, height) * 9 // 10 // len(rows)
    side = scale * len(rows)
    left, top = (width - side) // 2, (height - side) // 2
    luma = bytearray([WHITE]) * (width * height)
    for y, row in enumerate(rows):
        line = bytes(BLACK if dark else WHITE for dark in row for _ in range(scale))
        for dy in range(scale):
            start = (top + y * scale + dy) * width + left
            luma[start : start + side] = line
    chroma = bytes([NEUTRAL]) * ((width // 2) * (height // 2))
    return bytes(luma) + chroma + chroma


def write_y4m(path: Path, frame: bytes, frames: int = 10, fps: int = 10) -> Path:
    """A YUV4MPEG2 (C420jpeg) video repeating `frame` (Chromium loops it as the camera)."""
    header = f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii")
    with path.open("wb") as out:
        out.write(header)
        for _ in range(frames):
            out.write(b"FRAME\n")
            out.write(frame)
    return path


def test_y4m_frame_layout(tmp_path: Path) -> None:
    """The writer itself: header, frame size, and a dark module where the code starts."""
    frame = qr_frame("busanchain:pay?m=BS-7K2Q9P")
    assert len(frame) == WIDTH * HEIGHT * 3 // 2
    video = write_y4m(tmp_path / "v.y4m", frame, frames=2)
    data = video.read_bytes()
    assert data.startswith(b"YUV4MPEG2 W640 H480 ") and data.count(b"FRAME\n") == 2
    assert frame[0] == WHITE  # quiet zone
    modules = len(segno.make("busanchain:pay?m=BS-7K2Q9P", error="m").matrix) + 2 * QUIET_ZONE
    scale = HEIGHT * 9 // 10 // modules
    left, top = (WIDTH - scale * modules) // 2, (HEIGHT - scale * modules) // 2
    corner = (top + QUIET_ZONE * scale) * WIDTH + left + QUIET_ZONE * scale
    assert frame[corner] == BLACK and frame[corner - 1] == WHITE  # finder pattern's corner


class CameraWorld:
    """The served app, the shop's code, and Chromiums whose fake camera films a QR code."""

    def __init__(self, url: str, code: str, browser: Browser, videos: Path) -> None:
        self.url, self.code = url, code
        self._browser, self._videos = browser, videos
        self._cameras: dict[str, Browser] = {}

    def camera(self, payload: str) -> Browser:
        """A Chromium (launched once per payload) whose camera shows `payload` as a QR code."""
        if payload not in self._cameras:
            video = self._videos / f"qr-{len(self._cameras)}.y4m"
            write_y4m(video, qr_frame(payload))
            fake_camera = [
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={video}",
            ]
            self._cameras[payload] = self._browser.browser_type.launch(  # the session's Playwright
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS + fake_camera
            )
        return self._cameras[payload]

    def close(self) -> None:
        """Close every camera browser."""
        for camera in self._cameras.values():
            camera.close()


@pytest.fixture(scope="module")
def camera_world(
    tmp_path_factory: pytest.TempPathFactory, anvil: AnvilSupervisor, browser: Browser
) -> Iterator[CameraWorld]:
    """Demo shops and programs on fresh contracts, served; camera browsers made on demand."""
    tmp = tmp_path_factory.mktemp("qr-camera")
    with module_context(tmp, anvil.config.rpc_url, kek="c" * 64) as context:
        DeploymentService(context, OutboxService(context)).deploy_all(
            operator_signer(context.settings)
        )
        accounts = account_service_for(context)
        ids = {
            name: make_user(accounts, name, role)
            for name, role in (
                ("official", Role.OFFICIAL),
                ("citizen1", Role.CITIZEN),
                ("merchant1", Role.MERCHANT),
            )
        }
        load_demo_merchants(context, ids)
        load_demo_programs(context, ids)
        shop = merchant_service_for(context).by_owner(ids["merchant1"])
        assert shop is not None and shop.status == "active", shop
        with serve(create_app(context)) as url:
            world = CameraWorld(url, shop.code, browser, tmp)
            try:
                yield world
            finally:
                world.close()


def scan(world: CameraWorld, payload: str) -> PageVisit:
    """Log the demo citizen in on a phone whose camera films `payload`; open /pay and scan."""
    ctx = new_browser_context(world.camera(payload), PHONE)
    ctx.grant_permissions(["camera"], origin=world.url)
    log_in(ctx, world.url, "citizen1")
    shown = open_page(ctx, world.url + "/pay")
    page = shown.page
    assert page.input_value("#pp-code") == "" and page.input_value("#pp-amount") == ""
    page.click("#pp-scan")
    return shown


def camera_released(page: Page) -> None:
    """Wait until the page has hidden the video (it stops the camera once a code is read)."""
    page.wait_for_function(
        "document.getElementById('pp-video').style.display === 'none'", timeout=20_000
    )


def test_scanning_a_dynamic_qr_fills_the_payment(camera_world: CameraWorld) -> None:
    shown = scan(camera_world, dynamic_payload(camera_world.code, AMOUNT, ORDER))
    page = shown.page
    page.wait_for_function(
        "code => document.getElementById('pp-code').value === code",
        arg=camera_world.code,
        timeout=20_000,
    )
    assert page.input_value("#pp-amount") == str(AMOUNT)
    assert page.input_value("#pp-order") == ORDER
    assert page.locator("#pp-error").inner_text() == ""
    camera_released(page)
    if not page.evaluate("'BarcodeDetector' in window"):  # Debian's Chromium: the jsQR path
        assert page.evaluate("typeof window.jsQR") == "function"

    page.click("#pp-next")
    page.wait_for_selector("#pp-confirm:not([hidden])")
    assert page.inner_text("#pp-shop") == f"{SHOP_NAME} ({camera_world.code})"
    assert f"{AMOUNT:,}" in page.inner_text("#pp-sum")
    checked(shown)
    shown.page.context.close()


def test_scanning_a_static_qr_fills_only_the_shop(camera_world: CameraWorld) -> None:
    shown = scan(camera_world, static_payload(camera_world.code))
    page = shown.page
    page.wait_for_function(
        "code => document.getElementById('pp-code').value === code",
        arg=camera_world.code,
        timeout=20_000,
    )
    camera_released(page)
    assert page.input_value("#pp-amount") == "" and page.input_value("#pp-order") == ""
    page.fill("#pp-amount", "3000")
    page.click("#pp-next")
    page.wait_for_selector("#pp-confirm:not([hidden])")
    assert page.inner_text("#pp-shop") == f"{SHOP_NAME} ({camera_world.code})"
    checked(shown)
    shown.page.context.close()


def test_an_expired_order_qr_is_refused(camera_world: CameraWorld) -> None:
    """A dynamic code past its 10 minutes must not fill the form (the shop makes a new one)."""
    an_hour_ago = int(time.time()) - 3600
    shown = scan(camera_world, dynamic_payload(camera_world.code, AMOUNT, "ORDER-OLD", an_hour_ago))
    page = shown.page
    page.wait_for_function(
        "document.getElementById('pp-error').textContent.includes('만료된 주문 코드')",
        timeout=20_000,
    )
    camera_released(page)
    assert page.input_value("#pp-code") == "" and page.input_value("#pp-amount") == ""
    assert page.input_value("#pp-order") == ""
    refused = [e for e in shown.errors if "422" in e and "/api/merchants/qr/parse" in e]
    assert len(refused) == 1, shown.errors  # the browser logs the refusal it was given
    shown.errors.remove(refused[0])
    checked(shown)
    shown.page.context.close()
