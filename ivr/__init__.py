"""hotline IVR: a FastAGI server and the flows it runs."""
