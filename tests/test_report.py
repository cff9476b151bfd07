"""`raydeval report`: the page's charts and tables, escaping of hostile metadata, bad input."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from html.parser import HTMLParser

import pyarrow.parquet as pq
import pytest

from raydeval.cli import main
from raydeval.errors import InputError
from raydeval.report import write_report
from tests.render_report import image_result, screenshot, video_result, write_json

HOSTILE_GROUP = "<script>alert(1)</script>"
QUOTES = "\"'&<>"
HOSTILE_COLUMN = "<img src=x onerror=alert(1)>"


class Page(HTMLParser):
    """Start tags, SVG text and the URLs a page refers to."""

    def __init__(self, html: str):
        super().__init__()
        self.tags, self.svg_text, self.refs, self.in_text = [], [], [], False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.in_text = tag == "text"
        self.refs += [value for name, value in attrs if name in ("src", "href", "xlink:href") and value]

    def handle_endtag(self, tag):
        self.in_text = False if tag == "text" else self.in_text

    def handle_data(self, data):
        if self.in_text:
            self.svg_text.append(data)


def report(tmp_path, capsys, *files, extra=()) -> tuple[str, Page]:
    out = str(tmp_path / "out" / "report.html")
    assert main(["report", *map(str, files), "-o", out, *extra]) == 0
    assert capsys.readouterr().out.strip() == out
    html = open(out, encoding="utf-8").read()
    return html, Page(html)


def assert_self_contained(html: str, page: Page) -> None:
    assert "script" not in page.tags and "link" not in page.tags and "img" not in page.tags
    assert all(ref.startswith("#") for ref in page.refs), page.refs
    assert "@import" not in html and "url(http" not in html
    # the only URLs left are the SVG namespace names, which nothing fetches
    assert set(re.findall(r"https?://[^\"' ]*", html)) <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


def test_report_of_one_result_has_each_chart_and_table(tmp_path, capsys):
    path = write_json(str(tmp_path / "result.json"), image_result(str(tmp_path)))
    html, page = report(tmp_path, capsys, path)
    assert_self_contained(html, page)
    # breakdown by source, ROC, DET, histograms of pixel_f1 and score (not id, source, counts, labels)
    assert page.tags.count("svg") == 5
    text = " ".join(page.svg_text)
    for words in ("openmmsec-image by source", "n=", "ROC", "DET", "false alarm rate (%)", "miss rate (%)",
                  "true positive rate", "EER", "pixel_f1 (n=", "score (n=400)", "samples", "macro_f1"):
        assert words in text, words
    assert "mask_tp" not in text and "pred_label" not in text
    for words in ("95 % interval", "sha256", "s3://bench/openmmsec/image/gt.parquet", "shards_retried",
                  "2026-12-06T04:11:38+00:00", "By source", "Per-sample values", "Conventions"):
        assert words in html, words
    assert "Comparison" not in html


def test_comparison_of_two_runs_shows_deltas_coloured_by_direction(tmp_path, capsys):
    first = write_json(str(tmp_path / "a.json"), image_result(str(tmp_path), 0))
    second = write_json(str(tmp_path / "b.json"), image_result(str(tmp_path), 1))
    html, page = report(tmp_path, capsys, first, second)
    assert_self_contained(html, page)
    assert page.tags.count("svg") == 5 + 5 + 3  # two sections, comparison bars, overlaid ROC and DET
    comparison = html[html.index('id="comparison"'):]
    assert comparison.count('class="num better"') + comparison.count('class="num worse"') == 7
    eer_row = comparison[comparison.index("<td>eer</td>"):].split("</tr>")[0]
    assert "better" in eer_row and "▼" in eer_row  # a lower EER is an improvement
    assert "#1 a.json" in " ".join(page.svg_text) and "#2 b.json" in " ".join(page.svg_text)


def test_comparison_across_tasks_uses_the_shared_metrics_only(tmp_path, capsys):
    image = image_result(str(tmp_path))
    del image["per_sample"]
    first = write_json(str(tmp_path / "image.json"), image)
    second = write_json(str(tmp_path / "video.json"), video_result())
    html, page = report(tmp_path, capsys, first, second)
    comparison = html[html.index('id="comparison"'):]
    assert "only the metrics they share are compared" in comparison
    rows = re.findall(r"<tr><td>([a-z_@.0-9]+)</td>", comparison)
    assert rows == ["score", "auc", "ap", "eer"]
    assert "Not compared" in comparison and "pixel_f1_pooled" in comparison and "mtiou" in comparison
    score_row = comparison[comparison.index("<td>score</td>"):].split("</tr>")[0]
    assert score_row.count("n/a") == 2  # the video's null score, and so no delta
    assert page.tags.count("svg") == 3 + 1  # image section (breakdown, ROC, DET), comparison bars


def test_hostile_metadata_is_escaped_in_tables_and_charts(tmp_path, capsys):
    folder = tmp_path / "in<b>"
    folder.mkdir()
    result = image_result(str(folder), sources=(HOSTILE_GROUP, QUOTES, "$x^2$"),
                          ids=[QUOTES + str(i) for i in range(400)])
    table = pq.read_table(result["per_sample"]["uri"])
    pq.write_table(table.append_column(HOSTILE_COLUMN, table.column("score")), result["per_sample"]["uri"])
    result["inputs"]["pred"]["uri"] = str(folder / "pred<b>.parquet")
    result["notes"] = [f"note {HOSTILE_GROUP}"]
    result["conventions"]["weights"] = {"macro_f1": 0.5, "pixel_f1": 0.5}
    first = write_json(str(folder / "r<b>.json"), result)
    second = write_json(str(tmp_path / "plain.json"), video_result())
    html, page = report(tmp_path, capsys, first, second)
    assert_self_contained(html, page)
    for raw in (HOSTILE_GROUP, QUOTES, HOSTILE_COLUMN, "<b>"):
        assert raw not in html, raw
    assert "b" not in page.tags and "img" not in page.tags
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&#39;&amp;&lt;&gt;" in html  # Jinja2, in the breakdown table
    svgs = "".join(re.findall(r"<svg.*?</svg>", html, re.S))  # matplotlib's escaping, as written
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svgs and "\"'&amp;&lt;&gt;" in svgs
    assert "&lt;img src=x onerror=alert(1)&gt;" in svgs and "r&lt;b&gt;.json" in svgs
    svg_text = " ".join(page.svg_text)  # the same text, as a browser reads it
    assert HOSTILE_GROUP in svg_text and QUOTES in svg_text and HOSTILE_COLUMN in svg_text
    assert "r<b>.json" in svg_text and "$x^2$" in svg_text  # shown literally, not as mathtext
    assert page.tags.count("svg") == 5 + 1 + 1  # + histogram of the hostile column; + comparison bars


def test_per_sample_folder_and_missing_recorded_file(tmp_path, capsys):
    result = image_result(str(tmp_path))
    table = pq.read_table(result["per_sample"]["uri"])
    parts = tmp_path / "per_sample"
    parts.mkdir()
    pq.write_table(table.slice(0, 150), parts / "part-0.parquet")
    pq.write_table(table.slice(150), parts / "part-1.parquet")
    result["per_sample"]["uri"] = str(tmp_path / "elsewhere.parquet")
    result["scores"]["binned"] = True
    path = write_json(str(tmp_path / "r.json"), result)
    html, page = report(tmp_path, capsys, path)
    assert "are not on this machine" in html and page.tags.count("svg") == 3
    assert "binned" in html
    html, page = report(tmp_path, capsys, path, extra=["--per-sample", str(parts)])
    assert page.tags.count("svg") == 5 and "(400 rows)" in html


def test_write_report_for_the_demo(tmp_path):
    out = str(tmp_path / "r.html")
    assert write_report([video_result()], out) == out
    html = open(out, encoding="utf-8").read()
    assert "result 1" in html and "<svg" not in html and "mviou: mean over zero samples" in html


@pytest.mark.parametrize("content, message", [
    (None, "no such result file"),
    ("{not json", "cannot read it as a result file"),
    (b"\xff\xfe\x00", "cannot read it as a result file"),
    ("[1, 2]", "not a raydeval result"),
    ('{"schema": "raydeval.result/2", "task": "x"}', "not a raydeval result"),
    ('{"schema": "raydeval.result/1", "task": "x", "metrics": {"f1": "high"}, "conventions": {}, "run": {}}',
     "values must be numbers or null: f1"),
    ('{"schema": "raydeval.result/1", "task": "x", "metrics": {}, "conventions": {}}', "`run` must be"),
    ('{"schema": "raydeval.result/1", "task": "x", "metrics": {}, "conventions": {}, "run": {},'
     ' "breakdown": {"source": {"a": 1}}}', "each group must be an object"),
    ('{"schema": "raydeval.result/1", "task": "x", "metrics": {}, "conventions": {}, "run": {},'
     ' "scores": {"score": [0.1, 0.2], "pos": [1], "neg": [0, 1]}}', "`scores` needs arrays"),
])
def test_bad_result_files_exit_2(tmp_path, capsys, content, message):
    path = tmp_path / "bad.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    out = tmp_path / "report.html"
    assert main(["report", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and str(path) in err
    assert not out.exists()


def test_bad_per_sample_and_destination_exit_2(tmp_path, capsys):
    path = write_json(str(tmp_path / "r.json"), video_result())
    (tmp_path / "junk.parquet").write_text("not parquet")
    cases = [(["--per-sample", str(tmp_path / "none.parquet")], "no such file or folder"),
             (["--per-sample", str(tmp_path / "junk.parquet")], "cannot read it as Parquet"),
             ([], "is a directory")]
    for extra, message in cases:
        out = str(tmp_path) if not extra else str(tmp_path / "r.html")
        assert main(["report", path, "-o", out, *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    assert not (tmp_path / "r.html").exists()


def test_missing_dependencies_say_what_to_install(tmp_path, monkeypatch, capsys):
    path = write_json(str(tmp_path / "r.json"), video_result())
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(InputError, match=r"pip install 'raydeval\[report\]'"):
        write_report([json.load(open(path))], str(tmp_path / "r.html"))
    assert main(["report", path, "-o", str(tmp_path / "r.html")]) == 2
    assert "raydeval[report]" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_report_renders_in_headless_chromium(tmp_path, capsys):
    from PIL import Image

    first = write_json(str(tmp_path / "a.json"), image_result(str(tmp_path), 0))
    second = write_json(str(tmp_path / "b.json"), image_result(str(tmp_path), 1))
    html, _ = report(tmp_path, capsys, first, second)
    png = str(tmp_path / "report.png")
    screenshot(str(tmp_path / "out" / "report.html"), png)
    assert os.path.getsize(png) > 100_000
    with Image.open(png) as image:
        assert image.size == (1280, 3000) and len(image.convert("RGB").getcolors(1 << 20)) > 50


def test_results_that_share_no_metric_get_no_comparison(tmp_path, capsys):
    image = image_result(str(tmp_path))
    del image["per_sample"]
    other = {**image, "task": "asvspoof", "metrics": {"min_dcf": 0.2, "cllr": 0.4}}
    first = write_json(str(tmp_path / "image.json"), image)
    second = write_json(str(tmp_path / "asv.json"), other)
    html, _ = report(tmp_path, capsys, first, second)
    assert 'id="comparison"' not in html and 'href="#comparison"' not in html
