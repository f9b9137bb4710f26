"""Reports: self-contained HTML pages with tables and figures (open in a browser, no server)."""
