"""The ``ollamalib`` command: Ollama's CLI over ollamalib's Engine (in-process) or Client (a server)."""
