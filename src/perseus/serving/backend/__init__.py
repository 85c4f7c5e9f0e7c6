"""Files copied into generated Triton model repositories (run inside the python-backend stub)."""
