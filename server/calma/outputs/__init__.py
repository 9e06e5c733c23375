"""Outputs: what a CALMA study yields — derived axes per group, the cross-group comparison, and what alignment teams build from them.

`schema` is the derived-axes format (versioned; its JSON Schema is
shared_schema/derived-axes.schema.json, generated from it); `axes` builds a
group's derived axes from its Discuss records; `compare` aligns two or more
groups' axes by meaning.
"""
