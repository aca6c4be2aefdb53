"""`perfsage report`: a self-contained HTML page, rendered in headless Chromium, showing the right numbers."""

from __future__ import annotations

import html
import re
import shutil
import subprocess

import numpy as np
import pytest

from conftest import ROOT, TF_FIXTURES, run_cli
from perfsage.predict import Predictor
from perfsage.predict.report import fmt, write_report
from perfsage.targets.label import label_model

DEMO = ROOT / "src" / "perfsage" / "data" / "models" / "demo_kws_int8.tflite"
CHROMIUM = next((shutil.which(c) for c in ("chromium", "chromium-browser", "google-chrome") if shutil.which(c)),
                None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (Debian: chromium)")


def _chromium(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-extensions",
                           "--no-first-run", *args], capture_output=True, text=True, timeout=120)


def _cards(page: str, cls: str) -> dict[str, str]:
    return dict(re.findall(rf'<span class="{cls}" data-metric="([^"]+)">([^<]+)</span>', page))


def test_page_is_self_contained(tmp_path):
    out = tmp_path / "r.html"
    write_report(DEMO, out)
    page = out.read_text()
    assert not re.search(r"<(script|link|img|iframe)\b", page)
    assert not re.search(r'(src|href)\s*=', page)
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) <= {"http://www.w3.org/2000/svg"}


@needs_chromium
def test_rendered_page_shows_the_predictions(tmp_path):
    out, png = tmp_path / "r.html", tmp_path / "r.png"
    data = write_report(DEMO, out)
    r = _chromium("--dump-dom", out.as_uri())
    assert r.returncode == 0, r.stderr[-500:]
    dom = r.stdout
    expected = Predictor.load("ethos-u55-128").predict(DEMO, layers=False)
    shown = _cards(dom, "value")
    assert shown == {m: fmt(iv.value) for m, iv in expected.metrics.items()}
    assert shown == {m: fmt(v["value"]) for m, v in data["record"]["metrics"].items()}
    assert dom.count('class="bar"') == len(data["record"]["layers"])  # the demo has fewer layers than the cap
    r = _chromium(f"--screenshot={png}", "--window-size=1100,1400", "--hide-scrollbars", out.as_uri())
    assert r.returncode == 0 and png.is_file(), r.stderr[-500:]
    import matplotlib.image

    img = matplotlib.image.imread(png)[..., :3]
    assert img.shape[:2] == (1400, 1100)
    assert img.std() > 0.05  # not a blank page
    bar = np.array([0x2F, 0x6F, 0xB5]) / 255  # the predicted-bar colour: the chart was drawn
    assert (np.abs(img - bar).max(axis=2) < 0.02).sum() > 2000


@needs_chromium
def test_labelled_report_puts_the_measurement_beside(tmp_path):
    out = tmp_path / "r.html"
    r = run_cli("report", str(DEMO), "--label", "-o", str(out), timeout=120)
    assert r.returncode == 0, r.stderr
    dom = _chromium("--dump-dom", out.as_uri()).stdout
    truth = label_model(DEMO, "ethos-u55-128")["metrics"]
    measured = _cards(dom, "measured")
    assert measured == {m: fmt(truth[m]) for m in ("latency_ms", "energy_mj", "sram_kib", "flash_kib")}


def test_report_on_the_mcu_shows_the_arenas_head_and_tail(tmp_path):
    data = write_report(DEMO, tmp_path / "r.html", target="mcu-tflm")
    page = (tmp_path / "r.html").read_text()
    shown = dict(re.findall(r'<span class="part" data-part="([^"]+)">([^<]+)</span>', page))
    assert shown == {p: fmt(v) for p, v in data["record"]["parts"].items()}
    assert set(shown) == {"arena_head_kib", "arena_tail_kib"}


def test_report_bad_input_is_one_line(tmp_path):
    r = run_cli("report", str(tmp_path / "missing.tflite"), "-o", str(tmp_path / "r.html"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_page_names_the_model_and_predictor_not_this_machines_paths(tmp_path):
    from perfsage.model.shipped import PREDICTORS

    data = write_report(DEMO, tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert data["predictor_dir"] and data["predictor_dir"] not in page
    assert str(PREDICTORS) not in page and str(PREDICTORS.resolve()) not in page and str(ROOT) not in page
    assert "predictor ethos-u55-128 (shipped)" in page and DEMO.name in page
    ckpt = tmp_path / "ckpts" / "my-u55"  # a checkpoint of one's own: named by its folder
    shutil.copytree(PREDICTORS / "ethos-u55-128", ckpt, ignore=shutil.ignore_patterns("*.parquet"))
    write_report(DEMO, tmp_path / "c.html", target=str(ckpt))
    page = (tmp_path / "c.html").read_text()
    assert "predictor my-u55 &middot;" in page and str(tmp_path) not in page and DEMO.name in page


def test_page_lists_the_most_telling_reasons_and_folds_the_rest(tmp_path):
    from perfsage.predict.predictor import SHOWN_REASONS

    data = write_report(TF_FIXTURES / "small_float32.tflite", tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    reasons = data["record"]["ood"]["reasons"]
    assert len(reasons) > SHOWN_REASONS + 1
    shown, folded = page.split("<details>")
    assert re.findall(r'<li class="reason">([^<]*)</li>', shown) == [html.escape(r) for r in reasons[:SHOWN_REASONS]]
    assert f"and {len(reasons) - SHOWN_REASONS} more</summary>" in folded
    assert re.findall(r'<li class="reason">([^<]*)</li>', folded) == [html.escape(r) for r in reasons[SHOWN_REASONS:]]


def test_labelled_report_says_why_nothing_was_measured(tmp_path):
    """TFLite Micro aborts on the converter's MobileNetV2: the page keeps the prediction and says why."""
    out = tmp_path / "r.html"
    r = run_cli("report", str(TF_FIXTURES / "mobilenetv2_int8.tflite"), "--target", "mcu-tflm", "--label",
                "-o", str(out), timeout=120)
    assert r.returncode == 0 and "measurement failed (crashed)" in r.stderr, r.stderr
    page = out.read_text()
    assert '<div class="failed"><b>Measurement failed (crashed)</b>' in page and "SIGABRT" in page
    assert _cards(page, "value") and not _cards(page, "measured")
