#!/usr/bin/env python3
"""The run report renders in a real browser: every chart is on screen and drawn.

Runs the C++ test ReportExport.WritesTheFixtureRun (tests_report) with
PONDER_EXPORT_DIR set, which writes the fixture run folder of
tests/app/test_report.cc; writes its report with `ponder report`; takes a
screenshot of it in headless Chromium (Debian's `chromium`, installed by
scripts/setup); then finds each chart's plot area in the PNG by its background
colour (kPlotBackground in app/svg_chart.h) and checks there is one per <svg>
in the page, each holding drawn series (saturated pixels: the series colours;
grid, axes and text are grey). Standard library only: the PNG is decoded here.

Exits 77 (ctest: skipped) when no Chromium is installed. Run by ctest
(app.report_render).
"""
import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

SKIPPED = 77
PLOT_BACKGROUND = bytes.fromhex("f4f7fb")  # kPlotBackground in app/svg_chart.h
WINDOW = (1280, 3600)  # the fixture's whole page
MIN_PLOT_WIDTH = 200  # pixels; a chart's plot is about 560 wide at this window size
MIN_INK = 150  # saturated pixels in a plot with one short series of six points
ROW_GAP = 8  # grid lines and flat series cross a plot's background in a few rows


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read_png(path):
    """(width, height, rows): rows of RGB bytes, from an 8-bit RGB or RGBA PNG."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    pos, idat = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or colour not in (2, 6) or interlace:
                raise ValueError(f"{path}: unsupported PNG (depth {depth}, colour {colour})")
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    previous = bytearray(stride)
    rows = []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            line = bytearray((x + b) & 0xFF for x, b in zip(line, previous))
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                if i >= bpp:
                    line[i] = (line[i] + paeth(line[i - bpp], previous[i], previous[i - bpp])) & 0xFF
                else:
                    line[i] = (line[i] + previous[i]) & 0xFF
        previous = line
        rows.append(bytes(line) if bpp == 3 else bytes(b for i, b in enumerate(line) if i % 4 != 3))
    return width, height, rows


def background_runs(row):
    """[start, end) pixel columns of the runs of plot background in one RGB row."""
    pattern = re.compile(b"(?:" + re.escape(PLOT_BACKGROUND) + b")+")
    runs = []
    for m in pattern.finditer(row):
        start = m.start() + (-m.start()) % 3  # whole pixels only
        if m.end() - start >= 3:
            runs.append((start // 3, m.end() // 3))
    return runs


def merge(intervals, gap):
    merged = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1] + gap:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def plot_areas(rows):
    """(x0, x1, y0, y1) of each plot area: a block of background-coloured pixels."""
    runs = [background_runs(row) for row in rows]
    wide = [y for y, r in enumerate(runs) if sum(e - s for s, e in r) >= MIN_PLOT_WIDTH]
    bands = merge([(y, y + 1) for y in wide], ROW_GAP)
    areas = []
    for y0, y1 in bands:
        columns = merge([run for y in range(y0, y1) for run in runs[y]], ROW_GAP)
        for x0, x1 in columns:
            if x1 - x0 < MIN_PLOT_WIDTH:
                continue
            # This chart's own rows: a neighbour in the band may start higher or end lower.
            own = [y for y in range(y0, y1)
                   if sum(min(e, x1) - max(s, x0) for s, e in runs[y] if s < x1 and e > x0) >=
                   (x1 - x0) // 4]
            areas.append((x0, x1, own[0], own[-1] + 1))
    return areas


def ink(rows, area):
    """Saturated pixels in `area`: drawn series (grid, axes and text are grey)."""
    x0, x1, y0, y1 = area
    count = 0
    for y in range(y0, y1):
        row = rows[y]
        for x in range(x0, x1):
            r, g, b = row[3 * x], row[3 * x + 1], row[3 * x + 2]
            if max(r, g, b) - min(r, g, b) > 60:
                count += 1
    return count


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ponder", required=True)
    parser.add_argument("--tests-binary", required=True, help="tests_report")
    args = parser.parse_args()
    chromium = find_chromium()
    if chromium is None:
        print("SKIPPED: no chromium on PATH (scripts/setup installs Debian's `chromium`)")
        return SKIPPED

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([args.tests_binary, "--gtest_filter=ReportExport.WritesTheFixtureRun"],
                       env=dict(os.environ, PONDER_EXPORT_DIR=tmp), check=True,
                       stdout=subprocess.DEVNULL)
        run = os.path.join(tmp, "fixture")
        subprocess.run([args.ponder, "report", run], check=True)
        html = open(os.path.join(run, "report.html"), encoding="utf-8").read()
        expected = html.count("<svg")
        screenshot = os.path.join(tmp, "report.png")
        # --no-sandbox: the page is local and script-free (its CSP forbids
        # scripts), and Chromium's sandbox needs privileges a test machine
        # (root in a container) may lack.
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", "--force-device-scale-factor=1",
                        "--force-color-profile=srgb", f"--user-data-dir={tmp}/profile",
                        f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--screenshot={screenshot}",
                        "file://" + os.path.join(run, "report.html")],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=180)
        width, height, rows = read_png(screenshot)
        areas = plot_areas(rows)
        print(f"screenshot {width}x{height}: {len(areas)} plot areas, {expected} <svg> charts")
        failures = []
        if len(areas) != expected:
            failures.append(f"{len(areas)} plot areas on screen, {expected} charts in the page")
        for area in areas:
            drawn = ink(rows, area)
            print(f"  plot at x {area[0]}-{area[1]}, y {area[2]}-{area[3]}: {drawn} drawn pixels")
            if drawn < MIN_INK:
                failures.append(f"the plot at {area} is blank ({drawn} drawn pixels)")
        if expected != 11:
            failures.append(f"the fixture's report has {expected} charts, not 11")
        for failure in failures:
            print("FAIL:", failure)
        return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
