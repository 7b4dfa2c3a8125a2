import os

from shared_util import envelope

VERSION = "v1"


def handler(event, context):
    name = (event or {}).get("name", "world")
    return envelope({"message": f"{os.environ['GREETING']}, {name}!", "code": VERSION,
                     "function_version": context.function_version})
