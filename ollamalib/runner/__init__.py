"""The runner: the only package that imports llama_cpp. Everything above it speaks tokens and options."""
