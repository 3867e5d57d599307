#!/usr/bin/python3
"""Generate the image fixtures that tests/test_image.c compares src/image against.

Run with Debian's python (apt: python3-pil, python3-numpy):

    /usr/bin/python3 tools/gen_image_fixtures.py [--out tests/fixtures/images]

Every image is a synthetic pattern made here (gradients, discs, stripes and seeded noise);
no photographs. It writes, into --out:

  Images to decode, each with <file>.raw, the 8-bit RGB pixels PIL 9.4 gives for
  np.asarray(ImageOps.exif_transpose(Image.open(file)).convert("RGB")):
    rgb.jpg                  45x31 RGB, quality 90, 4:2:0
    rgb444_progressive.jpg   33x20 RGB, 4:4:4, progressive
    gray.jpg                 37x23 grayscale
    cmyk.jpg                 29x21 CMYK (PIL writes Adobe-inverted samples + Adobe marker)
    exif2.jpg .. exif8.jpg   24x16 RGB with EXIF Orientation 2..8 (little-endian TIFF via
                             Image.Exif, except exif3.jpg: a big-endian TIFF written by hand,
                             with another tag before the Orientation)
    no_eoi.jpg               rgb.jpg without its final EOI marker (complete pixel data). PIL
                             refuses it ("image file is truncated"); relage decodes it, and the
                             .raw is rgb.jpg's pixels (index kind "decode_ours").
    rgb.png                  23x17 8-bit RGB
    rgba.png                 21x13 RGBA with varying alpha (alpha is dropped)
    rgb16.png                19x11 16-bit RGB (written by hand; PIL keeps the high byte)
    gray16.png               15x9 16-bit gray (written by hand). Its .raw is NOT PIL's: PIL
                             opens it as mode "I" and convert("RGB") clips to 255; relage keeps
                             the high byte, and the .raw holds that (index kind "decode_ours").
    gray2.png                17x5 2-bit gray (written by hand)
    rgb_interlaced.png       13x11 8-bit RGB, Adam7 interlaced (written by hand)
    palette_trns.png         20x14 8-bit palette with a tRNS alpha table
    gray_alpha.png           18x12 8-bit gray + alpha
    exif6.png                16x10 RGB PNG with an eXIf chunk, Orientation 6

  Files that must fail: truncated.jpg (rgb.jpg cut in the scan data), truncated.png (rgb.png cut
  in the IDAT), empty.jpg (0 bytes), text.txt (plain text).

  Resize cases: raw uint8 sources and PIL's Image.resize(size, Image.BILINEAR) of them,
  interleaved HxWxC: 200x36 -> 128x23, and that PIL output -> 112x20 (a chain); 57x45 -> 23x17,
  80x20 (up in x, down in y), 57x30 (y only), 30x45 (x only); 13x11 -> 40x29 (up); and a
  1-channel 57x45 -> 23x31.

  index.txt, one case a line (fields separated by single spaces):
    decode <file> <width> <height> <reference.raw>        (reference is PIL's)
    decode_ours <file> <width> <height> <reference.raw>   (reference is relage's rule)
    resize <src.raw> <w> <h> <channels> <out.raw> <out_w> <out_h>

The output is deterministic (fixed seeds; PIL's encoders are deterministic) and small
(about 100 KB). The script re-reads what it wrote and checks the assumptions the C test relies
on (PIL's orientation mapping, 16-bit handling, alpha dropping).
"""
import argparse
import io
import os
import struct
import warnings
import zlib

import numpy as np
from PIL import Image, ImageOps


def pattern(w, h, seed, channels=3):
    """Smooth gradients, a disc, stripes and noise: asymmetric, so every flip shows."""
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255 * x / max(w - 1, 1)
    g = 255 * y / max(h - 1, 1)
    disc = ((x - w * 0.3) ** 2 + (y - h * 0.35) ** 2) < (min(w, h) * 0.25) ** 2
    b = np.where(disc, 230.0, 40.0) + 60 * ((x.astype(int) // 3) % 2)
    img = np.stack([r, g, b], axis=-1) + rng.randint(-25, 26, size=(h, w, 3))
    img = np.clip(img, 0, 255).astype(np.uint8)
    if channels == 1:
        return img[:, :, 0] // 2 + img[:, :, 1] // 2
    return img


def noise(w, h, seed, channels=3):
    rng = np.random.RandomState(seed)
    shape = (h, w, channels) if channels > 1 else (h, w)
    return rng.randint(0, 256, size=shape).astype(np.uint8)


def png_chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data +
            struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def write_png(path, width, height, bit_depth, color_type, rows, interlace=0):
    """rows: the filtered (filter byte 0) scanline stream, already laid out for interlace."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, interlace)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) +
                png_chunk(b"IDAT", zlib.compress(rows, 9)) + png_chunk(b"IEND", b""))


def scanlines(arr_bytes_rows):
    return b"".join(b"\x00" + r for r in arr_bytes_rows)


def save_raw(out, name, arr):
    with open(os.path.join(out, name), "wb") as f:
        f.write(np.ascontiguousarray(arr, dtype=np.uint8).tobytes())


def pil_rgb(path):
    with Image.open(path) as im, warnings.catch_warnings():
        # PIL warns that a palette with a tRNS table "should be converted to RGBA": dropping
        # the alpha is what we want here
        warnings.simplefilter("ignore", UserWarning)
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


def exif_mm_orientation(value):
    """APP1 payload with a big-endian TIFF: IFD0 = {Make "abc", Orientation value}."""
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 2)
    tiff += struct.pack(">HHI", 0x010F, 2, 4) + b"abc\x00"
    tiff += struct.pack(">HHIHH", 0x0112, 3, 1, value, 0)
    tiff += struct.pack(">I", 0)
    return b"Exif\x00\x00" + tiff


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures", "images"))
    out = parser.parse_args().out
    os.makedirs(out, exist_ok=True)
    index = []

    def decode_case(name, kind="decode", reference=None):
        path = os.path.join(out, name)
        pixels = pil_rgb(path) if reference is None else reference
        save_raw(out, name + ".raw", pixels)
        index.append(f"{kind} {name} {pixels.shape[1]} {pixels.shape[0]} {name}.raw")
        return pixels

    # JPEG
    Image.fromarray(pattern(45, 31, 1)).save(os.path.join(out, "rgb.jpg"), quality=90)
    decode_case("rgb.jpg")
    Image.fromarray(pattern(33, 20, 2)).save(os.path.join(out, "rgb444_progressive.jpg"),
                                             quality=90, subsampling=0, progressive=True)
    decode_case("rgb444_progressive.jpg")
    Image.fromarray(pattern(37, 23, 3, channels=1)).save(os.path.join(out, "gray.jpg"),
                                                         quality=90)
    decode_case("gray.jpg")
    cmyk = np.concatenate([pattern(29, 21, 4), pattern(29, 21, 5)[:, :, :1]], axis=-1)
    Image.fromarray(cmyk, "CMYK").save(os.path.join(out, "cmyk.jpg"), quality=90)
    with Image.open(os.path.join(out, "cmyk.jpg")) as im:
        assert im.mode == "CMYK" and "adobe" in im.info
    decode_case("cmyk.jpg")

    upright = pattern(24, 16, 6)
    for orientation in range(2, 9):
        name = f"exif{orientation}.jpg"
        if orientation == 3:
            exif = exif_mm_orientation(3)
        else:
            ex = Image.Exif()
            ex[0x0112] = orientation
            exif = ex.tobytes()
        Image.fromarray(upright).save(os.path.join(out, name), quality=90, exif=exif)
        with Image.open(os.path.join(out, name)) as im:
            assert im.getexif().get(0x0112) == orientation
            plain = np.asarray(im.convert("RGB"))
        got = decode_case(name)
        # PIL's mapping, the one the C code implements: orientation -> transpose
        expect = {2: plain[:, ::-1], 3: plain[::-1, ::-1], 4: plain[::-1],
                  5: plain.transpose(1, 0, 2), 6: np.rot90(plain, -1),
                  7: np.rot90(plain, -1)[::-1], 8: np.rot90(plain, 1)}[orientation]
        assert np.array_equal(got, expect), orientation

    jpeg = open(os.path.join(out, "rgb.jpg"), "rb").read()
    assert jpeg.endswith(b"\xff\xd9")
    with open(os.path.join(out, "no_eoi.jpg"), "wb") as f:
        f.write(jpeg[:-2])
    decode_case("no_eoi.jpg", kind="decode_ours",
                reference=pil_rgb(os.path.join(out, "rgb.jpg")))
    sos = jpeg.index(b"\xff\xda")
    with open(os.path.join(out, "truncated.jpg"), "wb") as f:
        f.write(jpeg[: sos + (len(jpeg) - sos) // 2])

    # PNG
    Image.fromarray(pattern(23, 17, 7)).save(os.path.join(out, "rgb.png"))
    decode_case("rgb.png")
    rgba = np.concatenate([pattern(21, 13, 8), noise(21, 13, 9, 1)[:, :, None]], axis=-1)
    Image.fromarray(rgba, "RGBA").save(os.path.join(out, "rgba.png"))
    assert np.array_equal(decode_case("rgba.png"), rgba[:, :, :3])

    rgb16 = (pattern(19, 11, 10).astype(np.uint16) << 8) | noise(19, 11, 11)
    write_png(os.path.join(out, "rgb16.png"), 19, 11, 16, 2,
              scanlines(row.astype(">u2").tobytes() for row in rgb16))
    assert np.array_equal(decode_case("rgb16.png"), (rgb16 >> 8).astype(np.uint8))

    gray16 = (pattern(15, 9, 12, channels=1).astype(np.uint16) << 8) | noise(15, 9, 13, 1)
    write_png(os.path.join(out, "gray16.png"), 15, 9, 16, 0,
              scanlines(row.astype(">u2").tobytes() for row in gray16))
    high = (gray16 >> 8).astype(np.uint8)
    pil16 = pil_rgb(os.path.join(out, "gray16.png"))
    assert np.array_equal(pil16[:, :, 0], np.minimum(gray16, 255))  # PIL clips; we do not
    decode_case("gray16.png", kind="decode_ours", reference=np.stack([high] * 3, axis=-1))

    gray2 = noise(17, 5, 14, 1) % 4
    packed = []
    for row in gray2:
        padded = np.concatenate([row, np.zeros((-len(row)) % 4, np.uint8)]).reshape(-1, 4)
        packed.append(bytes((padded[:, 0] << 6 | padded[:, 1] << 4 | padded[:, 2] << 2
                             | padded[:, 3]).astype(np.uint8)))
    write_png(os.path.join(out, "gray2.png"), 17, 5, 2, 0, scanlines(packed))
    assert np.array_equal(decode_case("gray2.png")[:, :, 0], gray2 * 85)

    inter = pattern(13, 11, 15)
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
              (1, 0, 2, 2), (0, 1, 1, 2)]
    stream = b""
    for x0, y0, dx, dy in passes:
        sub = inter[y0::dy, x0::dx]
        if sub.size:
            stream += scanlines(r.tobytes() for r in sub)
    write_png(os.path.join(out, "rgb_interlaced.png"), 13, 11, 8, 2, stream, interlace=1)
    assert np.array_equal(decode_case("rgb_interlaced.png"), inter)

    palette_src = pattern(20, 14, 16)
    pal = Image.fromarray(palette_src).quantize(colors=40)
    alpha = bytes(range(0, 256, 6))[:40]
    pal.info["transparency"] = alpha
    pal.save(os.path.join(out, "palette_trns.png"), transparency=alpha)
    with Image.open(os.path.join(out, "palette_trns.png")) as im:
        assert im.mode == "P" and isinstance(im.info.get("transparency"), bytes)
    decode_case("palette_trns.png")

    la = np.stack([pattern(18, 12, 17, channels=1), noise(18, 12, 18, 1)], axis=-1)
    Image.fromarray(la, "LA").save(os.path.join(out, "gray_alpha.png"))
    assert np.array_equal(decode_case("gray_alpha.png"), np.stack([la[:, :, 0]] * 3, axis=-1))

    ex = Image.Exif()
    ex[0x0112] = 6
    png6 = pattern(16, 10, 19)
    Image.fromarray(png6).save(os.path.join(out, "exif6.png"), exif=ex)
    assert np.array_equal(decode_case("exif6.png"), np.rot90(png6, -1))

    png = open(os.path.join(out, "rgb.png"), "rb").read()
    idat = png.index(b"IDAT")
    with open(os.path.join(out, "truncated.png"), "wb") as f:
        f.write(png[: idat + (len(png) - idat) // 2])
    open(os.path.join(out, "empty.jpg"), "wb").close()
    with open(os.path.join(out, "text.txt"), "w") as f:
        f.write("This is a text file, not an image.\n")

    # Resize
    def resize_case(src_name, src, sizes, chain_from=None):
        h, w = src.shape[:2]
        channels = 1 if src.ndim == 2 else src.shape[2]
        if chain_from is None:
            save_raw(out, src_name, src)
        mode = "L" if channels == 1 else "RGB"
        results = []
        for ow, oh in sizes:
            got = np.asarray(Image.fromarray(src, mode).resize((ow, oh), Image.BILINEAR))
            name = f"resize_{w}x{h}x{channels}_to_{ow}x{oh}.raw"
            save_raw(out, name, got)
            index.append(f"resize {src_name} {w} {h} {channels} {name} {ow} {oh}")
            results.append((name, got))
        return results

    smooth_noisy = pattern(200, 36, 20)
    smooth_noisy[:, ::7] = noise(200, 36, 21)[:, ::7]
    (name128, out128), = resize_case("resize_src_200x36x3.raw", smooth_noisy, [(128, 23)])
    resize_case(name128, out128, [(112, 20)], chain_from=name128)
    resize_case("resize_src_57x45x3.raw", noise(57, 45, 22),
                [(23, 17), (80, 20), (57, 30), (30, 45)])
    resize_case("resize_src_13x11x3.raw", noise(13, 11, 23), [(40, 29)])
    resize_case("resize_src_57x45x1.raw", noise(57, 45, 24, 1), [(23, 31)])

    with open(os.path.join(out, "index.txt"), "w") as f:
        f.write("# written by tools/gen_image_fixtures.py; see its docstring\n")
        f.write("\n".join(index) + "\n")
    total = sum(os.path.getsize(os.path.join(out, n)) for n in os.listdir(out))
    print(f"wrote {len(os.listdir(out))} files, {total} bytes, to {out}")


if __name__ == "__main__":
    main()
