"""The generic version diff: added / removed / changed rows with their paths and values."""

from mdr.core.versiondiff import ADDED, CHANGED, REMOVED, DiffRow, diff_sections, path_label, value_text, version_diff


def test_equal_versions_have_no_difference():
    value = {"a": 1, "b": {"c": [1, 2]}, "rules": [{"levels": [{"wait": 5}]}]}
    assert version_diff(value, {"a": 1, "b": {"c": [1, 2]}, "rules": [{"levels": [{"wait": 5}]}]}) == []


def test_changed_added_and_removed_keys_in_document_order():
    # given
    old = {"terms": {"tier": "standard", "mode": "notify_only", "gone": "x"}}
    new = {"terms": {"tier": "gold", "mode": "notify_only", "extra": 3}}
    # when
    rows = version_diff(old, new)
    # then
    assert rows == [
        DiffRow(("terms", "tier"), CHANGED, "standard", "gold"),
        DiffRow(("terms", "extra"), ADDED, None, 3),
        DiffRow(("terms", "gone"), REMOVED, "x", None),
    ]


def test_a_key_on_one_side_only_is_one_row_with_the_whole_value():
    old = {"scope_items": {"host:a": {"criticality": "high", "included": True}}}
    new = {"scope_items": {"host:b": {"criticality": "low", "included": False}}}
    rows = version_diff(old, new)
    assert [(r.label, r.kind) for r in rows] == [
        ('scope_items["host:b"]', ADDED),
        ('scope_items["host:a"]', REMOVED),
    ]
    assert rows[0].new == {"criticality": "low", "included": False} and rows[0].old_text == ""
    assert rows[1].new_text == "" and rows[1].old_text == '{"criticality": "high", "included": true}'


def test_lists_of_objects_are_compared_by_position_and_plain_lists_are_values():
    # given: rule 0 has a level changed and a level added; rule 1 is removed; channels is a plain list
    old = {"rules": [{"levels": [{"wait": 15, "channels": ["email"]}]}, {"levels": [{"wait": 5}]}]}
    new = {"rules": [{"levels": [{"wait": 30, "channels": ["email", "webhook"]}, {"wait": 60}]}]}
    # when
    rows = version_diff(old, new)
    # then
    assert [(r.label, r.kind, r.old_text, r.new_text) for r in rows] == [
        ("rules[0].levels[0].wait", CHANGED, "15", "30"),
        ("rules[0].levels[0].channels", CHANGED, "email", "email, webhook"),
        ("rules[0].levels[1]", ADDED, "", '{"wait": 60}'),
        ("rules[1]", REMOVED, '{"levels": [{"wait": 5}]}', ""),
    ]


def test_a_type_change_is_a_change_but_int_and_float_of_the_same_number_are_not():
    assert version_diff({"goal": 60}, {"goal": 60.0}) == []
    assert version_diff({"flag": True}, {"flag": 1}) == [DiffRow(("flag",), CHANGED, True, 1)]
    assert version_diff({"limit": "10"}, {"limit": 10}) == [DiffRow(("limit",), CHANGED, "10", 10)]


def test_no_previous_version_makes_every_top_level_key_added():
    rows = version_diff(None, {"terms": {"tier": "gold"}, "entitlements": {}})
    assert [(r.section, r.kind) for r in rows] == [("terms", ADDED), ("entitlements", ADDED)]
    assert version_diff(None, None) == []


def test_rows_grouped_by_section_and_values_as_text():
    rows = version_diff({"a": {"x": 1}, "b": {"y": None}}, {"a": {"x": 2}, "b": {"y": False}})
    assert {section: [r.label for r in group] for section, group in diff_sections(rows).items()} == {
        "a": ["a.x"],
        "b": ["b.y"],
    }
    assert (rows[1].old_text, rows[1].new_text) == ("–", "no")  # noqa: RUF001
    assert value_text([]) == "[]" and value_text({"日": "祝"}) == '{"日": "祝"}'
    assert path_label(("weekly_hours", "Mon")) == "weekly_hours.Mon"
