#!/usr/bin/env python3
"""Draws the app's icons (public/icons/) from the favicon's shapes: a white "R" on the brand
blue, as PNG (192 and 512 px, and a maskable 512 px with a safe margin) and SVG. Standard
library only; run it again after changing the shapes."""
import math, struct, zlib, pathlib

BRAND = (0x1d, 0x35, 0x57)
INK = (0xf1, 0xfa, 0xee)
OUT = pathlib.Path(__file__).resolve().parent.parent / "public" / "icons"

def seg_dist(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy or 1)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))

def stroke_dist(x, y):
    """Distance from (x, y), in the favicon's 32-unit box, to the letter's strokes."""
    d = min(seg_dist(x, y, 9, 23, 9, 9), seg_dist(x, y, 9, 9, 16, 9), seg_dist(x, y, 16, 18, 9, 18),
            seg_dist(x, y, 16, 18, 21, 23))
    # The bowl: a half circle of radius 4.5 around (16, 13.5), on its right.
    if x >= 16:
        d = min(d, abs(math.hypot(x - 16, y - 13.5) - 4.5))
    return d

def draw(size, margin):
    rows = []
    samples = 3
    for j in range(size):
        row = bytearray([0])
        for i in range(size):
            acc = [0.0, 0.0, 0.0, 0.0]
            for sj in range(samples):
                for si in range(samples):
                    u = (i + (si + .5) / samples) / size
                    v = (j + (sj + .5) / samples) / size
                    # Rounded square background (rx 6 of 32) unless maskable (full bleed).
                    x32, y32 = u * 32, v * 32
                    inside = True
                    if margin == 0:
                        cx, cy = min(max(x32, 6), 26), min(max(y32, 6), 26)
                        inside = math.hypot(x32 - cx, y32 - cy) <= 6
                    if not inside:
                        continue
                    # The letter, scaled into the safe zone.
                    s = 1 - 2 * margin
                    lx, ly = (x32 - 16) / s + 16, (y32 - 16) / s + 16
                    col = INK if stroke_dist(lx, ly) <= 1.5 else BRAND
                    for k in range(3):
                        acc[k] += col[k]
                    acc[3] += 255
            n = samples * samples
            row += bytes(int(round(c / n)) for c in acc)
        rows.append(bytes(row))
    raw = b"".join(rows)
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")

OUT.mkdir(parents=True, exist_ok=True)
(OUT / "icon-192.png").write_bytes(draw(192, 0))
(OUT / "icon-512.png").write_bytes(draw(512, 0))
(OUT / "maskable-512.png").write_bytes(draw(512, 0.1))
(OUT / "icon.svg").write_text((OUT.parent / "favicon.svg").read_text())
