"""Generated photos for the demo and the mint benchmark: no stock images, no real people.

Each picture is drawn from a seed: a Busan-like seaside at some hour (sky gradient, sun or
moon, mountain ridges, the sea with a bridge) and one or two figures in the foreground
standing in for the studio's customers. Sensor-like grain makes a JPEG about as large as a
camera's. The JPEG carries what a camera writes (make, model, capture date and a GPS
position), so the pipeline's stripping is visible in the demo: only the date survives, as
data.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from PIL import Image, ImageDraw, ImageFilter

EXIF_IFD = 0x8769
GPS_IFD = 0x8825
MAKE, MODEL = 0x010F, 0x0110
DATETIME_ORIGINAL, OFFSET_TIME_ORIGINAL = 0x9003, 0x9011
TWELVE_MEGAPIXELS = (4000, 3000)

# (sky top, sky bottom, sea) per hour of the scene
PALETTES: tuple[tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]], ...] = (
    ((40, 90, 170), (170, 210, 240), (30, 90, 140)),  # day
    ((60, 40, 110), (250, 150, 90), (70, 60, 110)),  # sunset
    ((10, 15, 45), (40, 60, 110), (10, 25, 60)),  # night
    ((120, 160, 200), (240, 220, 200), (60, 120, 150)),  # morning haze
)


@dataclass(frozen=True)
class DemoPhoto:
    """One generated photo: the JPEG bytes and what it shows."""

    seed: int
    jpeg: bytes
    title_ko: str
    title_en: str
    taken_at: datetime


TITLES: tuple[tuple[str, str], ...] = (
    ("광안리의 오후", "Afternoon at Gwangalli"),
    ("해운대 노을", "Haeundae sunset"),
    ("영도 바다", "Yeongdo sea"),
    ("감천 골목", "Gamcheon lanes"),
    ("송정 아침", "Morning at Songjeong"),
    ("다대포 저녁", "Evening at Dadaepo"),
)


def _gradient(size: tuple[int, int], top: tuple[int, ...], bottom: tuple[int, ...]) -> Image.Image:
    mask = Image.linear_gradient("L").resize(size)
    return Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), mask)


def _ridge(rng: random.Random, width: int, base: int, height: int) -> list[tuple[int, int]]:
    points = [(0, base)]
    x = 0
    while x < width:
        x += rng.randrange(width // 12, width // 5)
        points.append((min(x, width), base - rng.randrange(height // 10, height // 3)))
    return [*points, (width, base), (width, base + height), (0, base + height)]


def _figure(
    draw: ImageDraw.ImageDraw, x: int, ground: int, scale: int, colour: tuple[int, ...]
) -> None:
    head = scale // 2
    draw.ellipse(
        (x - head // 2, ground - 3 * scale, x + head // 2, ground - 3 * scale + head), fill=colour
    )
    draw.rounded_rectangle(
        (x - scale // 2, ground - 3 * scale + head, x + scale // 2, ground),
        radius=scale // 4,
        fill=colour,
    )


def scene(seed: int, size: tuple[int, int] = (1600, 1200)) -> Image.Image:
    """The picture for `seed` at `size` (RGB)."""
    rng = random.Random(seed)
    width, height = size
    top, bottom, sea = PALETTES[seed % len(PALETTES)]
    image = _gradient(size, top, bottom)
    draw = ImageDraw.Draw(image)
    horizon = int(height * rng.uniform(0.55, 0.65))
    sun = rng.randrange(width // 6, 5 * width // 6), int(horizon * rng.uniform(0.3, 0.8))
    radius = max(8, width // rng.randrange(14, 22))
    draw.ellipse(
        (sun[0] - radius, sun[1] - radius, sun[0] + radius, sun[1] + radius), fill=(255, 236, 190)
    )
    for depth in range(2):
        shade = tuple(max(0, c - 60 - 30 * depth) for c in bottom)
        draw.polygon(_ridge(rng, width, horizon - depth * height // 40, height), fill=shade)
    draw.rectangle((0, horizon, width, height), fill=sea)
    deck = horizon - height // 30
    draw.line(
        (0, deck, width, deck - height // 50), fill=(220, 220, 230), width=max(2, height // 200)
    )
    for x in range(width // 10, width, width // 5):
        draw.line(
            (x, deck - height // 8, x, horizon), fill=(200, 200, 215), width=max(2, width // 400)
        )
    ground = height - height // 12
    draw.rectangle((0, ground, width, height), fill=(214, 196, 160))
    for i in range(rng.choice((1, 2))):
        x = width // 3 + i * width // 4 + rng.randrange(-width // 20, width // 20)
        _figure(draw, x, ground, height // 10, tuple(rng.randrange(20, 90) for _ in range(3)))
    return image.filter(ImageFilter.GaussianBlur(radius=max(1, width // 1600)))


def _grainy(image: Image.Image, seed: int) -> Image.Image:
    width, height = image.size
    grain = random.Random(seed).randbytes(width * height)
    noise = Image.frombytes("L", (width, height), grain).convert("RGB")
    return Image.blend(image, noise, 0.06)


def camera_exif(taken_at: datetime) -> Image.Exif:
    """What a studio camera writes: make, model, capture date and a GPS position in Busan."""
    exif = Image.Exif()
    exif[MAKE], exif[MODEL] = "Busanchain Demo", "Generated Camera"
    sub = exif.get_ifd(EXIF_IFD)
    sub[DATETIME_ORIGINAL] = taken_at.strftime("%Y:%m:%d %H:%M:%S")
    sub[OFFSET_TIME_ORIGINAL] = "+09:00"
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2] = "N", (35.0, 9.0, 12.0)
    gps[3], gps[4] = "E", (129.0, 7.0, 6.0)
    return exif


def demo_photo(seed: int, size: tuple[int, int] = (1600, 1200), quality: int = 92) -> DemoPhoto:
    """A generated camera JPEG for `seed` (same seed, same bytes)."""
    taken_at = datetime(2026, 5, 1, 10, 0) + timedelta(hours=seed * 7 % 200)
    out = io.BytesIO()
    picture = _grainy(scene(seed, size), seed)
    picture.save(out, "JPEG", quality=quality, exif=camera_exif(taken_at).tobytes())
    title_ko, title_en = TITLES[seed % len(TITLES)]
    return DemoPhoto(seed, out.getvalue(), f"{title_ko} #{seed}", f"{title_en} #{seed}", taken_at)
