"""hotline CTI: AMI core, call/agent/queue state, web server."""
