"""A pull in a child process: ``pull_worker.py STORE HOME NAME PART_SIZE MAX_PARTS``; prints events as JSON lines."""

import json
import sys

from ollamalib.config import Settings
from ollamalib.registry import Registry
from ollamalib.store import ModelStore

store, home, name, part_size, max_parts = sys.argv[1:6]
settings = Settings.from_env({}, home_dir=home)
with Registry(
    ModelStore(store), settings=settings, insecure=True, part_size=int(part_size), max_parts=int(max_parts),
    retry_backoff=0.01,
) as registry:
    for event in registry.pull(name):
        print(json.dumps(event.model_dump(exclude_none=True)), flush=True)
