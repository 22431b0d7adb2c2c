import pytest

from ppi.data.go_ontology import read_obo
from ppi.errors import InputError

# A few real GO terms and their is_a / part_of edges, in OBO format.
OBO = """format-version: 1.2

[Term]
id: GO:0005515
name: protein binding
is_a: GO:0005488 ! binding

[Term]
id: GO:0005488
name: binding
is_a: GO:0003674 ! molecular_function

[Term]
id: GO:0003674
name: molecular_function

[Term]
id: GO:0005737
name: cytoplasm
relationship: part_of GO:0005622 ! intracellular

[Term]
id: GO:0005622
name: intracellular

[Term]
id: GO:0000005
name: obsolete ribosomal chaperone activity
is_obsolete: true

[Typedef]
id: part_of
"""


def test_ancestors_follow_is_a_and_part_of(tmp_path):
    path = tmp_path / "go.obo"
    path.write_text(OBO)
    onto = read_obo(path)
    assert onto.ancestors("GO:0005515") == {"GO:0005488", "GO:0003674"}
    assert onto.ancestors("GO:0005737") == {"GO:0005622"}
    assert "GO:0000005" not in onto.parents and "part_of" not in onto.parents
    path.write_text("not an ontology\n")
    with pytest.raises(InputError, match="expected an OBO ontology"):
        read_obo(path)
