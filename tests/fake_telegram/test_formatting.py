from __future__ import annotations

import pytest

from fake_telegram.formatting import EntityParseError, format_text, parse_html, parse_markdown, strip_text


def test_html_nested_entities_and_utf16_offsets() -> None:
    text, entities = parse_html("😀 <b>bold <i>both</i></b> <code>x&lt;y</code>")
    assert text == "😀 bold both x<y"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 9},
        {"type": "italic", "offset": 8, "length": 4},
        {"type": "code", "offset": 13, "length": 3},
    ]


def test_html_pre_with_language() -> None:
    text, entities = parse_html('<pre><code class="language-python">print(1)</code></pre>')
    assert text == "print(1)"
    assert entities == [{"type": "pre", "offset": 0, "length": 8, "language": "python"}]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("<b>x", "Can't find end tag"),
        ("<b>x</i>", "Unmatched end tag"),
        ("a<br>b", 'Unsupported start tag "br"'),
    ],
)
def test_html_errors(source: str, message: str) -> None:
    with pytest.raises(EntityParseError, match=message):
        parse_html(source)


def test_markdown_v2() -> None:
    text, entities = parse_markdown(r"*bold* _it_ __under__ ~s~ ||sp|| `c\`` [link](https://x.org/a\)b) 1\.5")
    assert text == "bold it under s sp c` link 1.5"
    kinds = [(e["type"], e["offset"], e["length"]) for e in entities]
    assert kinds == [
        ("bold", 0, 4),
        ("italic", 5, 2),
        ("underline", 8, 5),
        ("strikethrough", 14, 1),
        ("spoiler", 16, 2),
        ("code", 19, 2),
        ("text_link", 22, 4),
    ]
    assert entities[-1]["url"] == "https://x.org/a)b"


def test_markdown_v2_requires_escapes() -> None:
    with pytest.raises(EntityParseError, match=r"Character '\.' is reserved"):
        parse_markdown("1.5")
    with pytest.raises(EntityParseError, match="Can't find end"):
        parse_markdown("*open")


def test_legacy_markdown_is_lenient_about_punctuation() -> None:
    assert parse_markdown("*hi* 1.5!", legacy=True) == ("hi 1.5!", [{"type": "bold", "offset": 0, "length": 2}])


def test_strip_moves_entities() -> None:
    assert strip_text("  ab  ", [{"type": "bold", "offset": 1, "length": 3}]) == (
        "ab",
        [{"type": "bold", "offset": 0, "length": 2}],
    )


def test_unknown_parse_mode() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        format_text("x", "BBCode")
    assert format_text("<b>x</b>", None) == ("<b>x</b>", [])
