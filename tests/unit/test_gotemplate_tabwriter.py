"""tabwriter: docker's column alignment (minwidth 10, padding 3, spaces)."""

from __future__ import annotations

from berth.gotemplate.tabwriter import DISCARD_EMPTY_COLUMNS, display_width, rune_count, tabwrite


def test_columns_pad_to_widest_cell_plus_three_with_minimum_ten() -> None:
    text = "CONTAINER ID\tNAMES\tSTATUS\nabc\tweb\tUp\n"
    assert tabwrite(text) == ("CONTAINER ID   NAMES     STATUS\n"
                              "abc            web       Up\n")


def test_last_cell_of_a_line_is_not_padded() -> None:
    assert tabwrite("a\tb\n") == "a         b\n"


def test_trailing_tab_pads_the_last_column() -> None:
    assert tabwrite("a\tb\t\n") == "a         b         \n"


def test_line_without_tabs_ends_a_column_block() -> None:
    text = "aaaaaaaaaaaaaaaa\tb\nno tabs\nc\td\n"
    assert tabwrite(text) == "aaaaaaaaaaaaaaaa   b\nno tabs\nc         d\n"


def test_empty_cells_still_take_the_column_width() -> None:
    assert tabwrite("a\t\tb\n") == "a                   b\n"
    assert tabwrite("a\t\tb\n", flags=DISCARD_EMPTY_COLUMNS) == "a                   b\n"
    assert tabwrite("a\t\vb\n", flags=DISCARD_EMPTY_COLUMNS) == "a         b\n"


def test_wide_characters_count_two_columns_as_in_docker() -> None:
    assert display_width("\u65e5\u672c") == 4
    assert display_width("e\u0301") == 1
    assert tabwrite("\u65e5\u672c\u8a9e\u306e\u540d\u524d\tx\nab\ty\n") == \
        "\u65e5\u672c\u8a9e\u306e\u540d\u524d   x\nab             y\n"


def test_go_rune_counting_is_available() -> None:
    assert tabwrite("\u65e5\u672c\tx\n", measure=rune_count) == "\u65e5\u672c        x\n"


def test_formfeed_restarts_alignment() -> None:
    assert tabwrite("aaaaaaaaaaaaaa\tb\fc\td\n") == "aaaaaaaaaaaaaa   b\nc         d\n"


def test_text_without_final_newline_is_kept() -> None:
    assert tabwrite("a\tb\nc") == "a         b\nc"
