import json
import os

GREETING = os.environ.get("GREETING", "Hello")


def handler(event, context):
    name = event.get("name")
    if not name:
        raise ValueError("no name given")
    print(json.dumps({"level": "INFO", "greeted": name}))
    return {"message": f"{GREETING}, {name}!"}
