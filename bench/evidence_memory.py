"""Issue 11's image-bomb figures: the peak memory and time of cleaning one evidence file.

    .venv/bin/python bench/evidence_memory.py [case ...]

Each case runs in a fresh Python process that loads the portal (``create_app``), makes its file in
memory, resets the process's peak resident size (Linux's ``/proc/self/clear_refs``), runs
``evidence.clean`` with the default limits and reads the peak back (``VmHWM``). The peak is that of
the whole process, the portal included, as a gunicorn worker would see it. Cases: the largest file
of each kind the limits accept, and the three bombs of the issue. Prints a Markdown table.
"""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CASE = r'''
import io, sys, time
sys.path.insert(0, sys.argv[1])
from PIL import Image
from portal import create_app
from tests.ticket_helpers import jpeg_bomb, png_bomb, webp_bomb

create_app({"TESTING": True, "DATABASE_URL": "sqlite:///:memory:", "SECRET_KEY": "bench",
            "UPLOAD_DIR": "/nonexistent"})
from portal.tickets import evidence


def encoded(picture, image_format, **options):
    """A picture's bytes in a format."""
    buffer = io.BytesIO()
    picture.save(buffer, image_format, **options)
    return buffer.getvalue()


def gradient(size, mode="RGB"):
    """A smooth picture: small files, the same decoded size as any other."""
    return Image.linear_gradient("L").resize(size).convert(mode)


def busy(size):
    """A picture with noise, near the 10 MB upload limit as a 40 Mpx JPEG."""
    noise, ramp = Image.effect_noise(size, 40), Image.linear_gradient("L").resize(size)
    return Image.merge("RGB", (noise, ramp, Image.blend(noise, ramp, 0.5)))


def with_alpha(size):
    """A picture whose transparency varies: the dearest WebP to encode."""
    picture = gradient(size, "RGBA")
    picture.putalpha(Image.linear_gradient("L").resize(size))
    return picture


sideways = Image.Exif()
sideways[0x0112] = 6
MAKE = {
    "JPEG 40 Mpx": lambda: encoded(gradient((7744, 5164)), "JPEG", quality=90),
    "JPEG 40 Mpx, busy": lambda: encoded(busy((7744, 5164)), "JPEG", quality=70),
    "JPEG 20.9 Mpx, sideways": lambda: encoded(gradient((5600, 3740)), "JPEG", quality=90,
                                               exif=sideways.tobytes()),
    "MPO 12 Mpx (two pictures)": lambda: encoded(gradient((4032, 3024)), "MPO", save_all=True,
                                                 append_images=[gradient((4032, 3024))]),
    "PNG RGBA 40 Mpx": lambda: encoded(Image.new("RGBA", (7744, 5164)), "PNG"),
    "PNG palette 40 Mpx": lambda: encoded(gradient((7744, 5164), "P"), "PNG"),
    "WebP 6 Mpx": lambda: encoded(gradient((2990, 2000)), "WEBP", quality=90),
    "WebP 6 Mpx, transparency": lambda: encoded(with_alpha((2990, 2000)), "WEBP", quality=90),
    "bomb: JPEG claiming 8944 x 8944": jpeg_bomb,
    "bomb: WebP claiming 16383 x 4880": webp_bomb,
    "bomb: empty RGBA PNG 8944 x 8944": png_bomb,
}
if sys.argv[2] == "--list":
    print("\n".join(MAKE))
    raise SystemExit
data = MAKE[sys.argv[2]]()


def status(key):
    """A line of /proc/self/status, in MiB."""
    line = next(line for line in open("/proc/self/status") if line.startswith(key))
    return int(line.split()[1]) // 1024


with open("/proc/self/clear_refs", "w") as handle:
    handle.write("5")
before = status("VmRSS")
started = time.perf_counter()
try:
    outcome = "accepted, %d KB" % (len(evidence.clean(data, "x", 10 * 1024 * 1024)[0]) // 1024)
except evidence.EvidenceRefused as refused:
    outcome = "refused: " + refused.code
seconds = time.perf_counter() - started
size = f"{len(data):,} bytes" if len(data) < 10_000 else f"{len(data) // 1024:,} KB"
print(f"| {sys.argv[2]} | {size} | {outcome} | {before} MiB | {status('VmHWM')} MiB | "
      f"{seconds:.2f} s |")
'''


def main(cases):
    """Run each case in its own process and print the table."""
    cases = cases or subprocess.run([sys.executable, "-c", CASE, str(ROOT), "--list"], capture_output=True,
                                    text=True, check=True).stdout.splitlines()
    print("| file | size | outcome | resident before | peak | time |")
    print("|---|---|---|---|---|---|")
    for case in cases:
        run = subprocess.run([sys.executable, "-c", CASE, str(ROOT), case], capture_output=True, text=True)
        print(run.stdout.strip() or f"| {case} | failed: {run.stderr.strip().splitlines()[-1]} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
