def handler(event, context):
    name = event.get("name", "world")
    if name == "boom":
        raise ValueError("no booms here")
    return {"greeting": f"hello, {name}", "requestId": context.aws_request_id}
