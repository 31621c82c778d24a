"""BuildOptions: the one wire format of build options (defaults, partial JSON, overrides)."""

from __future__ import annotations

import pytest

from pexlab.build.options import DEFAULT_EXCLUDES, BuildOptions, OptionsError
from pexlab.build.pex import BuildOptions as ReExported
from pexlab.core.errors import PexlabError


def test_defaults_leave_out_spark_and_the_connect_client() -> None:
    assert BuildOptions().exclude == DEFAULT_EXCLUDES
    assert set(DEFAULT_EXCLUDES) == {"pyspark", "py4j", "pyspark-client", "pyspark-connect"}
    assert ReExported is BuildOptions


def test_partial_json_keeps_the_other_defaults() -> None:
    opts = BuildOptions.from_json({"include": ["PySpark"], "zip_level": 0})
    assert opts == BuildOptions(include=("PySpark",), zip_level=0)
    assert BuildOptions.coerce({"venv": False}) == BuildOptions(venv=False)
    assert BuildOptions.coerce(None) == BuildOptions()
    same = BuildOptions(compress=True)
    assert BuildOptions.coerce(same) is same


def test_json_round_trip_is_canonical() -> None:
    opts = BuildOptions(exclude=("Py_Spark", "py4j"), extra_args=("--no-strip",))
    data = opts.to_json()
    assert data["exclude"] == ["py-spark", "py4j"]
    assert BuildOptions.from_json(data).to_json() == data


def test_overrides_name_only_what_differs_from_the_defaults() -> None:
    assert BuildOptions().overrides() == {}
    # Spelling and order of the default excludes do not count as a difference.
    reordered = BuildOptions(exclude=tuple(reversed([n.upper() for n in DEFAULT_EXCLUDES])))
    assert reordered.overrides() == {}
    opts = BuildOptions(exclude=("pyspark", "py4j", "numpy"), bytecode=False)
    over = opts.overrides()
    assert over == {"exclude": sorted(["pyspark", "py4j", "numpy"]), "bytecode": False}
    # What a cell passes back reproduces the options exactly.
    assert BuildOptions.from_json(over).to_json() == opts.to_json()


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"exlcude": ["x"]}, "Unknown build option.*'exlcude'"),
        ({"exclude": "pyspark"}, "'exclude' must be a list of strings"),
        ({"exclude": [1]}, "'exclude' must be a list of strings"),
        ({"venv": "yes"}, "'venv' must be true or false"),
        ({"zip_level": 12}, "within 0..9"),
        ({"zip_level": True}, "must be an integer"),
        ({"inherit_path": "always"}, "one of false, prefer, fallback"),
        (["pyspark"], "must be an object"),
    ],
)
def test_bad_options_say_which_and_why(data: object, match: str) -> None:
    with pytest.raises(OptionsError, match=match) as info:
        BuildOptions.from_json(data)  # type: ignore[arg-type]
    assert isinstance(info.value, PexlabError)


def test_records_of_other_versions_are_read_leniently() -> None:
    opts = BuildOptions.from_json({"compress": True, "future_option": 1}, strict=False)
    assert opts == BuildOptions(compress=True)
