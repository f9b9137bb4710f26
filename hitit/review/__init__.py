"""Post-procedure review of injection sites: planned vs actual needle, delivered vs
prescribed volume, injectate distribution on a post-injection CT and the biopsy/sampling log.

Every point is LPS mm, volumes are mL, angles degrees. :func:`hitit.review.visit.review_visit`
runs the whole review and :func:`hitit.review.visit.write_review` writes ``review.json`` and
``review.html``.
"""
