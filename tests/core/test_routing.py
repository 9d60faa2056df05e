import pytest

from agentrun_tasks.core.errors import ConfigError, NotFoundError
from agentrun_tasks.core.routing import canary_weights, parse_weight, require_versions


@pytest.mark.parametrize(("text", "expected"), [("0.05", 0.05), ("5%", 0.05), ("0", 0.0), ("1", 1.0), ("100%", 1.0),
                                            (None, None), ("", None)])
def test_parse_weight_accepts_ratios_and_percentages(text, expected):
    assert parse_weight(text) == expected


@pytest.mark.parametrize("text", ["1.5", "-0.1", "150%", "abc", "nan", "0.5x"])
def test_parse_weight_rejects_outside_unit_interval(text):
    with pytest.raises(ConfigError) as err:
        parse_weight(text)
    assert err.value.exit_code == 2
    assert text in str(err.value)


def test_weight_without_canary_is_the_guides_broken_form_and_is_refused_with_the_fix():
    with pytest.raises(ConfigError, match="--canary-version"):
        canary_weights("2", None, 0.1)


def test_canary_without_weight_is_refused():
    with pytest.raises(ConfigError, match="--weight"):
        canary_weights("1", "2", None)


def test_canary_equal_to_target_is_refused():
    with pytest.raises(ConfigError, match="two different versions"):
        canary_weights("2", "2", 0.1)


def test_canary_weights_map_the_canary_version():
    assert canary_weights("1", "2", 0.2) == {"2": 0.2}
    assert canary_weights("1", None, None) == {}


def test_unpublished_version_is_not_found_and_lists_what_exists():
    with pytest.raises(NotFoundError) as err:
        require_versions(["7"], ["1", "2"])
    assert err.value.exit_code == 2
    assert "1, 2" in str(err.value)
    require_versions(["LATEST", "2"], ["1", "2"])
