"""hotline recordings: the catalogue of call recordings."""
