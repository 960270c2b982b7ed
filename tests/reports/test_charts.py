"""The SVG charts are well-formed XML, accessible, scaled, and escape their labels."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from busanchain.reports.charts import Bar, bar_chart, hbar_chart, line_chart, stacked_bar

SVG = "{http://www.w3.org/2000/svg}"


def _parse(markup: str) -> ET.Element:
    root = ET.fromstring(str(markup))
    assert root.tag == f"{SVG}svg"
    assert root.get("width") == "100%" and root.get("viewBox", "").startswith("0 0 360 ")
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and desc is not None
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    return root


def _rects(root: ET.Element, cls: str) -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if r.get("class") == cls]


def _texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def test_hbar_chart_has_one_scaled_bar_per_item_with_amount_labels() -> None:
    bars = [Bar("식료품점", 120_000), Bar("음식점", 60_000), Bar("제과점", 0)]
    root = _parse(hbar_chart("cat", "업종별 사용액", bars))
    rects = _rects(root, "bar")
    assert len(rects) == 3
    assert [float(r.get("width", "0")) for r in rects] == [360.0, 180.0, 0.0]
    texts = _texts(root)
    assert "120,000원" in texts and "60,000원" in texts and "식료품점" in texts


def test_labels_are_escaped() -> None:
    evil = '<script>alert("x")</script> & "q"'
    markup = hbar_chart("x", "t<i>", [Bar(evil, 5)])
    assert "<script>" not in str(markup) and "<i>" not in str(markup)
    root = _parse(markup)
    assert evil[:17] in "".join(_texts(root))  # the label survives as text (shortened)
    row_title = next(t for t in root.iter(f"{SVG}title") if t.text and "alert" in t.text)
    assert row_title.text == f"{evil}: 5원"


def test_bar_chart_and_stacked_bar() -> None:
    root = _parse(bar_chart("f", "회수 예상", [Bar("#1 D-3", 5_000), Bar("#2 D-40", 10_000)]))
    assert len(_rects(root, "bar")) == 2
    assert "10,000원" in _texts(root)
    parts = [Bar("사용", 300, "#111"), Bar("미사용", 100, "#222"), Bar("미청구", 0, "#333")]
    root = _parse(stacked_bar("s", "현황", parts))
    widths = [float(r.get("width", "0")) for r in _rects(root, "part")]
    assert widths == [270.0, 90.0, 0.0]
    assert "300원 (75.0%)" in _texts(root)


def test_line_chart_has_a_point_per_day() -> None:
    points = [Bar(f"11-{d:02d}", d * 1_000) for d in range(1, 31)]
    root = _parse(line_chart("d", "일별", points))
    circles = [c for c in root.iter(f"{SVG}circle") if c.get("class") == "point"]
    assert len(circles) == 30
    assert any("최대 30,000원" in t for t in _texts(root))
    assert any("합계 465,000원" in t for t in _texts(root))


def test_empty_charts_say_so_in_the_readers_language() -> None:
    for chart in (hbar_chart, bar_chart, line_chart, stacked_bar):
        root = _parse(chart("e", "빈 차트", [], "en"))
        assert "No data to show." in _texts(root)
    root = _parse(stacked_bar("z", "0", [Bar("a", 0)]))
    assert "표시할 자료가 없습니다." in _texts(root)
