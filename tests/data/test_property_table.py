import math

import pytest

from ppi.data.property_table import BUILTIN_COLUMNS, builtin_properties, read_property_table
from ppi.errors import InputError


def test_builtin_properties_follow_protparam():
    seq = "MKTAYIAKQRQISFVKSHFSRQ"
    values = dict(zip(BUILTIN_COLUMNS, builtin_properties(seq), strict=True))
    assert len(values) == 25
    assert values["log_length"] == pytest.approx(math.log(len(seq)))
    assert values["frac_K"] == pytest.approx(seq.count("K") / len(seq))
    assert sum(values[f"frac_{a}"] for a in "ACDEFGHIKLMNPQRSTVWY") == pytest.approx(1.0)
    assert 9 < values["isoelectric_point"] < 12  # lysine- and arginine-rich
    with_x = builtin_properties("MKTAYXIAK")  # an ambiguous residue is skipped, not fatal
    assert all(math.isfinite(v) for v in with_x)


def test_table_reading_and_errors(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("id,charge,mass\nA,1.5,10\nB,-2,11\n")
    table = read_property_table(path)
    assert table.columns == ("charge", "mass") and table.rows["B"] == [-2.0, 11.0]
    path.write_text("id,charge,mass\nA,1.5,10\nB,high,11\n")
    with pytest.raises(
        InputError, match=r"p\.csv:3: column 'charge': expected a number, got 'high'"
    ):
        read_property_table(path)
    path.write_text("id,charge,mass\nA,1.5\n")
    with pytest.raises(InputError, match=r"p\.csv:2: expected 3 columns, got 2"):
        read_property_table(path)
