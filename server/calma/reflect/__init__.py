"""Reflect (CALMA stage 3): open coding of model responses and focused coding into clusters.

A participant's codes, annotations and clusters change only through
operations (`ops`): each carries an id the browser chose, is validated and
authorized here, applied in one transaction and kept as the history. An
operation sent twice (a retry, a reload, a second tab, an offline queue
flushed later) is applied once. `anchors` checks that an annotation's span is
really in the text it claims; `structural` spots codes that describe
structure rather than values. Nothing here touches rooms or models.
"""
